"""Modules the sandbox never imports, whatever a policy lists, and why (a leaf module).

``ai_sandbox.policy`` refuses a policy that names one of them in ``allowed_imports`` (a
``ConfigurationError`` saying why), and the import hook refuses them at run time with the same
reason; this is the one place the list lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["NEVER_IMPORTABLE", "never_importable_reason"]

_FILES = "it reads or writes files outside the sandbox's path layer"
_PROCESSES = "it starts processes, threads or signals, or changes the process"
_NETWORK = "it opens network connections"
_INTERPRETER = "it reaches the interpreter's internals (frames, modules, objects, memory)"
_CODE = "it compiles, loads or runs code from text or bytes"
_TERMINAL = "it drives a terminal, a GUI or the user's session"

_REASONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        _FILES: (
            "aifc", "bz2", "dbm", "filecmp", "fileinput", "glob", "gzip", "io", "linecache",
            "lzma", "mailbox", "mmap", "netrc", "ntpath", "os", "pathlib", "plistlib",
            "posixpath", "shelve", "shutil", "sqlite3", "stat", "tarfile", "tempfile", "uu",
            "wave", "zipfile", "zipapp", "zoneinfo", "logging", "sysconfig", "syslog",
        ),
        _PROCESSES: (
            "asyncio", "atexit", "concurrent", "contextvars", "fcntl", "multiprocessing", "nt",
            "posix", "pty", "pwd", "grp", "resource", "sched", "select", "selectors",
            "signal", "subprocess", "threading", "crypt", "getpass", "platform",
            "faulthandler", "tracemalloc", "_thread",
        ),
        _NETWORK: (
            "ftplib", "http", "imaplib", "nntplib", "poplib", "smtpd", "smtplib", "socket",
            "socketserver", "ssl", "telnetlib", "urllib", "webbrowser", "wsgiref", "xmlrpc",
        ),
        _INTERPRETER: (
            "builtins", "ctypes", "gc", "inspect", "sys", "types", "weakref", "copyreg", "dis",
            "opcode", "symtable", "traceback", "trace", "warnings", "site", "pkgutil",
            "modulefinder", "ai_sandbox", "RestrictedPython", "pydantic", "structlog",
        ),
        _CODE: (
            "ast", "code", "codeop", "codecs", "compileall", "cProfile", "profile", "doctest",
            "importlib", "imp", "marshal", "pickle", "pickletools", "py_compile", "pyexpat",
            "runpy", "timeit", "token", "tokenize", "tabnanny", "unittest", "xml", "zipimport",
            "bdb", "pdb", "pydoc", "ensurepip", "venv", "distutils", "cgi", "cgitb", "pipes",
            "shlex", "rlcompleter",
        ),
        _TERMINAL: ("antigravity", "curses", "idlelib", "termios", "tkinter", "tty", "turtle"),
    }
)  # fmt: skip

_REASON_OF: Mapping[str, str] = MappingProxyType(
    {name: reason for reason, names in _REASONS.items() for name in names}
)

#: Never importable from the sandbox, whatever the policy says (top-level names).
NEVER_IMPORTABLE: frozenset[str] = frozenset(_REASON_OF)


def never_importable_reason(name: str) -> str | None:
    """Why module ``name`` (or its top-level package) can never be imported, or None."""
    return _REASON_OF.get(name.partition(".")[0])
