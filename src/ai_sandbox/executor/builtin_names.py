"""The real builtins the AI's code is handed unchanged (a leaf module: no executor imports).

Both the sandbox's ``__builtins__`` (:mod:`~ai_sandbox.executor.safe_builtins`) and the rule that
decides which builtin functions may reach the code through a module attribute or a value
(:func:`~ai_sandbox.executor.modules.is_dangerous_callable`) read this one table, so a builtin is
either exposed everywhere as the same object or nowhere.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["SAFE_BUILTIN_NAMES", "STATIC_BUILTINS"]

#: Real builtins handed to the code unchanged: types, constants and pure functions.
SAFE_BUILTIN_NAMES: tuple[str, ...] = (
    "None", "True", "False", "Ellipsis", "NotImplemented",
    "__build_class__",
    "abs", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr", "classmethod",
    "complex", "dict", "divmod", "float", "format", "frozenset", "hash", "hex", "id", "int",
    "isinstance", "issubclass", "len", "list", "object", "oct", "ord", "pow",
    "property", "range", "repr", "round", "set", "slice", "staticmethod", "str", "tuple",
    # exceptions
    "ArithmeticError", "AssertionError", "AttributeError", "BaseException", "BufferError",
    "EOFError", "Exception", "FileExistsError", "FileNotFoundError", "FloatingPointError",
    "GeneratorExit", "ImportError", "IndexError", "IsADirectoryError", "KeyError",
    "KeyboardInterrupt", "LookupError", "MemoryError", "ModuleNotFoundError", "NameError",
    "NotADirectoryError", "NotImplementedError", "OSError", "OverflowError", "PermissionError",
    "RecursionError", "ReferenceError", "RuntimeError", "StopIteration", "SyntaxError",
    "SystemExit", "TimeoutError", "TypeError", "UnboundLocalError", "UnicodeDecodeError",
    "UnicodeEncodeError", "UnicodeError", "ValueError", "ZeroDivisionError",
    "BlockingIOError", "BrokenPipeError", "ChildProcessError", "ConnectionAbortedError",
    "ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "EnvironmentError",
    "IOError", "IndentationError", "InterruptedError", "ProcessLookupError", "TabError",
    "UnicodeTranslateError", "StopAsyncIteration", "SystemError", "ExceptionGroup",
    "BaseExceptionGroup",
    # warnings (as values only; there is no warnings module)
    "DeprecationWarning", "FutureWarning", "RuntimeWarning", "UserWarning", "Warning",
    "BytesWarning", "EncodingWarning", "ImportWarning", "PendingDeprecationWarning",
    "ResourceWarning", "SyntaxWarning", "UnicodeWarning",
)  # fmt: skip

#: The unchanged real builtins, looked up once: name -> object.
STATIC_BUILTINS: Mapping[str, Any] = MappingProxyType(
    {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
)
