"""``language="python"``: the AI's code as plain CPython, inside the worker's OS layers.

No RestrictedPython, no guards, real builtins: the code is compiled with ``compile`` and run
with ``exec`` in a fresh ``__main__`` module, with the inputs as variables. What holds it is
the worker's lockdown (namespaces, uid drop, rlimits, Landlock, seccomp) alone, which is why
the policy allows this language only with ``isolation="strict"``. This module adds what a run
needs around the ``exec``, and nothing that pretends to be a boundary:

- ``print`` and anything written to ``sys.stdout``/``sys.stderr`` lands in the run's capped
  output (``max_output_bytes``);
- an exception becomes ``{"type", "message", "line"}`` with the line in the submitted code
  (never a traceback of our internals); ``SystemExit(0)``/``sys.exit()`` ends the run normally;
- ``result`` is read after the run and turned into JSON data (:mod:`.data_values`);
- open matplotlib figures come back as PNG images (:mod:`.figures`).

The payload has the same shape as the restricted executor's, plus ``images``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import linecache
import os
import sys
import time
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ai_sandbox.exceptions import ResourceLimitExceeded, SecurityError
from ai_sandbox.executor.context import AI_FILENAME, OutputCollector, ai_line
from ai_sandbox.executor.data_values import to_plain
from ai_sandbox.executor.display import display_last_expression, is_displayed
from ai_sandbox.executor.figures import SHOW_HANDLER, FigureCapture
from ai_sandbox.executor.inputs import (
    ResultError,
    copy_inputs,
    replace_lone_surrogates,
    to_json_result,
)
from ai_sandbox.executor.payload import error_payload, message_of

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = ["MPL_BACKEND", "THREAD_ENVIRONMENT", "PythonSession", "run_python_payload"]

#: The matplotlib backend of every python-mode run (Agg; ``show()`` captures).
MPL_BACKEND = "module://ai_sandbox.executor.mpl_backend"

#: Native libraries' thread pools stay at one thread: a worker may not start threads at all
#: (RLIMIT_NPROC 0, seccomp), and the zygote must stay single-threaded to fork safely.
THREAD_ENVIRONMENT: dict[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "MPLBACKEND": MPL_BACKEND,
}


class _Output(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` during a run: the run's capped collector."""

    def __init__(self, collector: OutputCollector, name: str) -> None:
        super().__init__()
        self._collector = collector
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only, as on a real stream
        return "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._collector.write(text)
        return len(text)

    def isatty(self) -> bool:
        return False


def _type_name(exc: BaseException) -> str:
    try:
        return str(type(exc).__name__)
    except BaseException:
        return "Exception"


def _describe(exc: BaseException) -> dict[str, Any]:
    """The payload for an exception that ended the run."""
    if isinstance(exc, SyntaxError) and exc.filename == AI_FILENAME:
        line = exc.lineno
    else:
        line = ai_line(exc.__traceback__)
    if isinstance(exc, MemoryError):
        return error_payload("limit", "MemoryError", "the code ran out of memory", line, "memory")
    if isinstance(exc, RecursionError):
        return error_payload("error", "RecursionError", message_of(exc), line)
    return error_payload("error", _type_name(exc), message_of(exc), line)


def _clean_exit(exc: SystemExit) -> bool:
    """``sys.exit()``, ``sys.exit(0)`` and ``exit(None)`` end a program successfully."""
    return exc.code is None or exc.code == 0


class PythonSession:
    """One ``__main__`` module kept between runs (a one-shot run uses a fresh session)."""

    def __init__(self, *, policy: PolicyView, sinks: object = None) -> None:
        """``sinks`` (the worker's channel file access) may carry an ``output_sink`` for the
        run: printed text then also goes there as it is printed (streaming output)."""
        self._policy = policy
        self._sinks = sinks
        self._module = types.ModuleType("__main__")
        self._module.__dict__["__builtins__"] = builtins
        for key, value in THREAD_ENVIRONMENT.items():  # for modules imported in the run
            os.environ.setdefault(key, value)

    @property
    def namespace(self) -> dict[str, Any]:
        return self._module.__dict__

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``code`` in this session's module; never raises."""
        started = time.perf_counter()
        output = OutputCollector(
            self._policy.max_output_bytes, getattr(self._sinks, "output_sink", None)
        )
        capture = FigureCapture(
            int(getattr(self._policy, "max_images", 0)),
            int(getattr(self._policy, "max_image_bytes", 0)),
        )
        try:
            payload = self._run(code, inputs, output, capture)
        except BaseException as exc:  # a failure while describing the outcome
            payload = _describe(exc)
        for note in capture.notes:
            output.write(note + "\n")
        payload["images"] = capture.images
        payload["stdout"] = replace_lone_surrogates(output.text())
        payload["duration_ms"] = (time.perf_counter() - started) * 1000.0
        payload.setdefault("error", None)
        return payload

    def _run(
        self,
        code: str,
        inputs: Mapping[str, Any] | None,
        output: OutputCollector,
        capture: FigureCapture,
    ) -> dict[str, Any]:
        if not isinstance(code, str):
            return error_payload("error", "TypeError", "code must be a string of Python source")
        try:
            copied = copy_inputs(inputs)
        except SecurityError as exc:
            return error_payload("rejected", "SecurityError", message_of(exc), None, exc.rule)
        try:
            # A final bare expression is the result, as in restricted mode (notebook display).
            tree = display_last_expression(ast.parse(code, AI_FILENAME, "exec"))
            compiled = compile(tree, AI_FILENAME, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            line = exc.lineno if isinstance(exc, SyntaxError) else None
            return error_payload("error", type(exc).__name__, message_of(exc), line)
        # Tracebacks the code prints itself (traceback.print_exc) show its own lines.
        linecache.cache[AI_FILENAME] = (len(code), None, code.splitlines(True), AI_FILENAME)
        namespace = self.namespace
        namespace.pop("result", None)
        namespace.update(copied)
        failure = self._exec(compiled, namespace, output, capture)
        if failure is not None:
            return failure
        try:
            result = to_json_result(
                to_plain(namespace.get("result")), self._policy.max_result_bytes
            )
        except ResourceLimitExceeded as exc:
            return error_payload("limit", "ResourceLimitExceeded", message_of(exc), None, exc.limit)
        except ResultError as exc:
            if not is_displayed(code):
                return error_payload("error", "TypeError", message_of(exc))
            result = _shown(namespace.get("result"))  # a displayed value: its repr, as Out[n]
        except RecursionError:
            return error_payload("error", "TypeError", "result is nested too deeply")
        return {"status": "ok", "result": result, "error": None}

    def _exec(
        self,
        compiled: types.CodeType,
        namespace: dict[str, Any],
        output: OutputCollector,
        capture: FigureCapture,
    ) -> dict[str, Any] | None:
        """The one ``exec``; the failure payload if the code raised."""
        saved = sys.stdout, sys.stderr, sys.modules.get("__main__")
        sys.stdout, sys.stderr = _Output(output, "<stdout>"), _Output(output, "<stderr>")
        sys.modules["__main__"] = self._module
        token = SHOW_HANDLER.set(capture.capture_open_figures)
        failure: dict[str, Any] | None = None
        try:
            try:
                exec(compiled, namespace)  # noqa: S102  # nosec B102 - the OS layers hold it
            except SystemExit as exc:
                if not _clean_exit(exc):
                    failure = error_payload("error", "SystemExit", f"exit status {exc.code!r}")
            except BaseException as exc:
                failure = _describe(exc)
            with contextlib.suppress(BaseException):
                capture.capture_open_figures()
        finally:
            SHOW_HANDLER.reset(token)
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
            sys.stdout, sys.stderr = saved[0], saved[1]
            if saved[2] is not None:
                sys.modules["__main__"] = saved[2]
        return failure


#: Longest repr a displayed value that is not JSON data is shown with.
_MAX_SHOWN_CHARS = 2000


def _shown(value: Any) -> str | None:
    """A displayed value that is not JSON data, as a notebook shows it: its repr, cut."""
    try:
        text = replace_lone_surrogates(repr(value))
    except BaseException:  # a repr that fails shows nothing
        return None
    return text if len(text) <= _MAX_SHOWN_CHARS else text[:_MAX_SHOWN_CHARS] + "..."


def run_python_payload(
    code: str, inputs: Mapping[str, Any] | None, *, policy: PolicyView, sinks: object = None
) -> dict[str, Any]:
    """Run ``code`` once in a fresh ``__main__`` and describe the outcome as JSON data."""
    return PythonSession(policy=policy, sinks=sinks).run(code, inputs)
