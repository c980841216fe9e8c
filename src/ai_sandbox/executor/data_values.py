"""Full Python's ``result`` as plain JSON data: numpy, pandas, dates and sets a model can read.

Runs inside the worker (``language="python"``), before the usual JSON check
(:func:`~ai_sandbox.executor.inputs.to_json_result`); the host re-checks only plain JSON, so
nothing here is ever trusted across the process boundary. numpy and pandas are looked up in
``sys.modules``, never imported: a value of their types can only exist if the code imported
them. The shapes::

    DataFrame      {"type": "DataFrame", "shape": [rows, cols], "columns": [...],
                    "dtypes": {column: dtype}, "index": [...] (unless 0..n-1), "records": [...]}
    Series         {index label: value, ...}
    ndarray        nested lists;  numpy scalars: numbers / bool
    NaN, inf, NaT, NA  null;  datetime, date, time, Timestamp: ISO 8601 text
    set            list (sorted when the items allow);  Timedelta, Period, Decimal: text
"""

from __future__ import annotations

import datetime
import decimal
import math
import sys
from typing import Any

from ai_sandbox.exceptions import ResourceLimitExceeded
from ai_sandbox.executor.inputs import MAX_DEPTH, MAX_RESULT_ITEMS, ResultError

__all__ = ["to_plain"]

_PLAIN = (type(None), bool, int, str)


def to_plain(value: Any) -> Any:
    """``value`` with numpy/pandas objects, dates, NaN and sets turned into JSON data.

    Anything else is left as it is, for :func:`to_json_result` to accept or to explain."""
    return _Walk().convert(value, 0)


class _Walk:
    __slots__ = ("items", "np", "pd")

    def __init__(self) -> None:
        self.np = sys.modules.get("numpy")
        self.pd = sys.modules.get("pandas")
        self.items = 0

    def _count(self, items: int) -> None:
        self.items += items
        if self.items > MAX_RESULT_ITEMS:
            raise ResourceLimitExceeded(
                "result",
                f"result holds more than {MAX_RESULT_ITEMS} items; return a summary "
                "(df.head(), df.describe()) or write the data to a file",
            )

    def convert(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if depth > MAX_DEPTH:
            raise ResultError(
                f"result is nested more than {MAX_DEPTH} levels deep (or contains a cycle); "
                "return a flatter structure"
            )
        if kind is float:
            return value if math.isfinite(value) else None
        if kind is dict:
            self._count(len(value))
            return {self.key(k): self.convert(v, depth + 1) for k, v in value.items()}
        if kind is list or kind is tuple:
            self._count(len(value))
            return [self.convert(item, depth + 1) for item in value]
        if isinstance(value, set | frozenset):
            self._count(len(value))
            items = [self.convert(item, depth + 1) for item in value]
            try:
                return sorted(items)
            except TypeError:
                return items
        converted = self._library_value(value, depth)
        if converted is not _UNCHANGED:
            return converted
        return self._standard_value(value, depth)

    def _standard_value(self, value: Any, depth: int) -> Any:
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, datetime.timedelta | decimal.Decimal):
            return str(value)
        if isinstance(value, float) and not isinstance(value, bool):
            return self.convert(float(value), depth)
        if isinstance(value, dict):
            return self.convert(dict(value), depth)
        if isinstance(value, list | tuple):
            return self.convert(list(value), depth)
        return value  # to_json_result accepts it (an int subclass...) or says how to fix it

    def key(self, key: Any) -> Any:
        """A mapping key as JSON allows: text, or a number/bool/None (written as text)."""
        if type(key) in _PLAIN:
            return key
        plain = self.convert(key, 0)
        if isinstance(plain, str | int | float | bool) or plain is None:
            return plain
        return str(key)

    # -- numpy and pandas --------------------------------------------------------------------
    def _library_value(self, value: Any, depth: int) -> Any:
        np, pd = self.np, self.pd
        if np is not None:
            if isinstance(value, np.ndarray):
                return self._array(np, value, depth)
            if isinstance(value, np.datetime64):
                return None if np.isnat(value) else str(np.datetime_as_string(value))
            if isinstance(value, np.timedelta64):
                return None if np.isnat(value) else str(value)
            if isinstance(value, np.complexfloating):
                return str(value.item())
            if isinstance(value, np.generic):
                return self.convert(value.item(), depth)
        if pd is not None:
            return self._pandas_value(pd, value, depth)
        return _UNCHANGED

    def _array(self, np: Any, array: Any, depth: int) -> Any:
        self._count(int(array.size))
        if array.dtype.kind == "M":  # datetime64: ISO text, NaT as null
            text = np.datetime_as_string(array)
            return self.convert(np.where(np.isnat(array), None, text).tolist(), depth)
        if array.dtype.kind == "m":
            return self.convert(array.astype(str).tolist(), depth)
        return self.convert(array.tolist(), depth)

    def _pandas_value(self, pd: Any, value: Any, depth: int) -> Any:
        if value is pd.NaT or value is getattr(pd, "NA", _UNCHANGED):
            return None
        if isinstance(value, pd.DataFrame):
            return self._frame(value, depth)
        if isinstance(value, pd.Series):
            self._count(len(value))
            return {self.key(k): self.convert(v, depth + 1) for k, v in value.items()}
        if isinstance(value, pd.Index):
            self._count(len(value))
            return [self.convert(item, depth + 1) for item in value.tolist()]
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, pd.Timedelta | pd.Period | pd.Interval):
            return str(value)
        if isinstance(value, pd.Categorical):
            return self.convert(list(value), depth)
        return _UNCHANGED

    def _frame(self, frame: Any, depth: int) -> dict[str, Any]:
        rows, cols = frame.shape
        self._count(rows * max(cols, 1))
        columns = [self.key(column) for column in frame.columns]
        names = [str(column) for column in columns]
        records = [
            {name: self.convert(cell, depth + 2) for name, cell in zip(names, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)
        ]
        out: dict[str, Any] = {
            "type": "DataFrame",
            "shape": [int(rows), int(cols)],
            "columns": columns,
            "dtypes": {name: str(dtype) for name, dtype in zip(names, frame.dtypes, strict=True)},
        }
        index = frame.index
        default = type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1
        if not default:
            out["index"] = [self.key(label) for label in index.tolist()]
        out["records"] = records
        return out


_UNCHANGED: Any = object()
