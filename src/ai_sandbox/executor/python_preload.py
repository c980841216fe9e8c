"""What the zygote imports for ``language="python"`` before any worker exists.

A worker cannot count on importing anything new once it is locked down: as ``nobody`` it may
not be able to read the interpreter's directory (e.g. under ``/root``), and Landlock limits
reads anyway. And an import per call is slow. So the zygote, once, before lockdown:

1. caps native thread pools at one thread (``THREAD_ENVIRONMENT``): the zygote must stay
   single-threaded to fork, and workers may not start threads;
2. imports the everyday standard library (:data:`COMMON_STDLIB`);
3. imports every module of ``policy.preload`` (a module that cannot be imported is the
   developer's mistake: ``ConfigurationError`` naming it and the extra to install);
4. runs our own warm-up of numpy, pandas and matplotlib when they are loaded, so the modules
   they import lazily (formatting, parsers, PNG writing, fonts) are in memory too;
5. installs an asyncio event loop policy whose loops wake themselves through a pipe instead
   of a socket pair (seccomp refuses ``socketpair`` in a worker), so ``asyncio.run`` works.

Workers inherit all of it through ``fork``; nothing of it is writable shared memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shutil
import sys
import tempfile
from typing import Any

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.executor.python_mode import MPL_BACKEND, THREAD_ENVIRONMENT

__all__ = ["COMMON_STDLIB", "PipeSelectorEventLoop", "import_preload", "prepare_python_mode"]

#: The standard library everyday programs import (and what those import lazily).
COMMON_STDLIB: tuple[str, ...] = (
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "atexit",
    "base64",
    "binascii",
    "bisect",
    "bz2",
    "calendar",
    "cmath",
    "codecs",
    "collections",
    "collections.abc",
    "colorsys",
    "concurrent.futures",
    "concurrent.futures.thread",
    "contextlib",
    "contextvars",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "doctest",
    "email.utils",
    "encodings.ascii",
    "encodings.base64_codec",
    "encodings.charmap",
    "encodings.cp1252",
    "encodings.cp437",
    "encodings.hex_codec",
    "encodings.idna",
    "encodings.latin_1",
    "encodings.punycode",
    "encodings.raw_unicode_escape",
    "encodings.rot_13",
    "encodings.unicode_escape",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.utf_8_sig",
    "enum",
    "errno",
    "fcntl",
    "fnmatch",
    "fractions",
    "functools",
    "gc",
    "getopt",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "html.parser",
    "importlib.metadata",
    "importlib.resources",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "math",
    "mimetypes",
    "mmap",
    "numbers",
    "opcode",
    "operator",
    "pathlib",
    "pickle",
    "platform",
    "plistlib",
    "pprint",
    "pwd",
    "pyexpat",
    "queue",
    "random",
    "re",
    "reprlib",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shlex",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sysconfig",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tokenize",
    "tomllib",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib.parse",
    "uuid",
    "warnings",
    "weakref",
    "xml.etree.ElementTree",
    "xml.parsers.expat",
    "zipfile",
    "zlib",
    "zoneinfo",
    "zoneinfo._zoneinfo",
)

#: Our own code, run once in the zygote when the data stack is loaded: it touches the paths
#: analysis code takes first, so what they import lazily is imported here, before lockdown.
_DATA_WARM_UP = {
    "numpy": """
import numpy as np
a = np.arange(12, dtype=float).reshape(3, 4)
str(a); repr(a); a.mean(); a.std(); np.linalg.inv(np.eye(2)); np.random.default_rng(0).random(3)
np.save(__import__('io').BytesIO(), a); np.percentile(a, 50); np.sort(a); np.unique(a)
""",
    "pandas": """
import io, pandas as pd
df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.5], "c": ["x", "y", "x"],
                   "d": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])})
str(df); repr(df); df.describe(); df.groupby("c").agg({"a": "sum", "b": "mean"})
df.sort_values("a"); df.merge(df, on="a"); df.pivot_table(index="c", values="a")
df.to_dict("records"); df.to_json(); df.to_csv(io.StringIO()); df["d"].dt.month
pd.read_csv(io.StringIO("a,b\\n1,2\\n")); pd.read_json(io.StringIO('[{"a": 1}]'))
df[["a", "b"]].rolling(2).mean(); df.resample("MS", on="d").sum(numeric_only=True)
df.info(buf=io.StringIO())
df["c"].value_counts(); df.isna().sum(); df.fillna(0); df.apply(lambda r: r["a"], axis=1)
""",
    "matplotlib": """
import io, matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9], label="x"); ax.bar(["a", "b"], [1, 2]); ax.scatter([1], [2])
ax.hist([1, 2, 2, 3]); ax.set_title("t"); ax.set_xlabel("x"); ax.legend(); fig.tight_layout()
fig.savefig(io.BytesIO(), format="png"); fig.savefig(io.BytesIO(), format="svg")
import sys
if "pandas" in sys.modules:  # pandas' plotting backend is imported on first use
    sys.modules["pandas"].DataFrame({"a": [1, 2]}).plot(kind="bar", title="t")
plt.close("all")
""",
}


def prepare_python_mode(preload: tuple[str, ...]) -> None:
    """Import and warm what python-mode workers use (see the module docstring)."""
    os.environ.update(THREAD_ENVIRONMENT)
    for name in COMMON_STDLIB:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    asyncio.set_event_loop_policy(_PipeLoopPolicy())
    with contextlib.suppress(Exception):  # the zone file is read once, here; cached after
        import zoneinfo

        zoneinfo.ZoneInfo("UTC")
    with _private_matplotlib_config():
        for name in preload:
            _import(name)
        if "matplotlib" in sys.modules:
            import matplotlib

            matplotlib.use(MPL_BACKEND)
            _import("matplotlib.pyplot")
        for name, code in _DATA_WARM_UP.items():
            if name in sys.modules:
                _warm(name, code)


def _warm(name: str, code: str) -> None:
    """Run our own warm-up; a library version it does not fit is slower, not broken."""
    compiled = compile(code, f"<ai-sandbox warm-up {name}>", "exec")
    with contextlib.suppress(Exception):
        exec(compiled, {})  # noqa: S102  # nosec B102 - our own code, never the AI's


def import_preload(preload: tuple[str, ...]) -> None:
    """Restricted mode: import ``preload`` (still subject to ``allowed_imports``), no warm-up."""
    for name in preload:
        _import(name)


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        extra = " (pip install 'ai-sandbox[data]')" if name.split(".")[0] in _DATA_WARM_UP else ""
        raise ConfigurationError(
            f"preload: module {name!r} cannot be imported: {exc}{extra}"
        ) from None
    except Exception as exc:
        raise ConfigurationError(
            f"preload: importing {name!r} failed: {type(exc).__name__}: {exc}"
        ) from None


@contextlib.contextmanager
def _private_matplotlib_config() -> Any:
    """A private, throw-away MPLCONFIGDIR while matplotlib builds its font cache (in memory,
    inherited by workers); there is no writable home, and no worker writes there later."""
    if "MPLCONFIGDIR" in os.environ:
        yield
        return
    path = tempfile.mkdtemp(prefix="ai-sandbox-mpl-")
    os.environ["MPLCONFIGDIR"] = path
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _PipeEnd:
    """Just enough of a socket for asyncio's self-pipe: one end of an ``os.pipe``."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def setblocking(self, flag: bool) -> None:
        os.set_blocking(self._fd, flag)

    def recv(self, size: int) -> bytes:
        return os.read(self._fd, size)

    def send(self, data: bytes) -> int:
        return os.write(self._fd, data)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


class PipeSelectorEventLoop(asyncio.SelectorEventLoop):
    """The default selector loop, woken through a pipe: a worker may not create sockets.

    It replaces one private method of ``BaseSelectorEventLoop`` (stable since Python 3.4),
    keeping its body but for ``socket.socketpair()``."""

    def _make_self_pipe(self) -> None:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        loop: Any = self  # asyncio's private attributes, untyped in typeshed
        loop._ssock = _PipeEnd(read_fd)
        loop._csock = _PipeEnd(write_fd)
        loop._internal_fds += 1
        loop._add_reader(read_fd, loop._read_from_self)


class _PipeLoopPolicy(asyncio.DefaultEventLoopPolicy):
    _loop_factory = PipeSelectorEventLoop
