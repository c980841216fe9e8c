"""Which names starting with ``_`` the code may use, and what to write instead of the others.

A leaf module (no executor imports): the compiler (``transformer``), the run-time guards and the
checked module functions (``replacements``) read the same rules.

* *Private names* of the code's own things, ``_total``, ``_helper()``, ``self._cache``,
  ``cls._registry`` (and class-private ``self.__secret``): any name starting with ``_`` that does
  not end with ``_``, is not ``_print`` and does not start with ``_ai_``. Every name the sandbox
  itself puts into the namespace (``_getattr_``, ``_write_``, ``_print``, ``_ai_*`` flags,
  ``__builtins__``, ``__metaclass__``...) falls outside that rule, so the code can neither read nor
  rebind them. At run time a private attribute is only served from the code's own objects
  (``guards``).
* *Special methods* the code may define on its own classes (:data:`SPECIAL_METHODS`): the data
  model of values (``__str__``, ``__len__``, ``__eq__``, operators, ``__enter__``...). Hooks into
  attribute access, object lifetime, class creation and pickling (:data:`REFUSED_HOOKS`) stay
  refused: the interpreter and host libraries call them at moments and with arguments the code
  does not choose (``copy`` rebuilds an object from what ``__reduce_ex__`` returns by calling
  ``setattr`` on it).
* *Readable special attributes* (:data:`READABLE_DUNDERS`): names (``__name__``, ``__qualname__``,
  ``__doc__``, ``__module__``), ``__class__`` (what ``type(x)`` gives), ``__dict__`` of the code's
  own instances, ``__members__`` of an enum, and the special methods themselves
  (``Base.__init__(self)``, ``super().__str__()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "CLASS_BODY_DUNDERS",
    "DUNDER_HINTS",
    "ENUM_SUNDERS",
    "READABLE_DUNDERS",
    "REFUSED_HOOKS",
    "SPECIAL_METHODS",
    "is_dunder",
    "is_private_name",
    "name_hint",
]

_OPERATORS = (
    "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow", "lshift",
    "rshift", "and", "xor", "or",
)  # fmt: skip

#: Special methods a class defined in the sandbox may have.
SPECIAL_METHODS: frozenset[str] = frozenset(
    {
        "__init__", "__post_init__", "__str__", "__repr__", "__format__", "__bytes__",
        "__len__", "__length_hint__", "__iter__", "__next__", "__reversed__", "__getitem__",
        "__setitem__", "__delitem__", "__missing__", "__contains__", "__hash__", "__bool__",
        "__call__", "__enter__", "__exit__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
        "__ge__", "__neg__", "__pos__", "__abs__", "__invert__", "__index__", "__int__",
        "__float__", "__complex__", "__round__", "__trunc__", "__floor__", "__ceil__",
        "__copy__", "__deepcopy__",
    }
    | {f"__{op}__" for op in _OPERATORS}
    | {f"__r{op}__" for op in _OPERATORS}
    | {f"__i{op}__" for op in _OPERATORS if op != "divmod"}
)  # fmt: skip

#: Other special names the code may assign: in a class body (``__slots__ = ("x",)``,
#: ``__hash__ = None``) or at module level (``__all__``, ``__version__``).
CLASS_BODY_DUNDERS: frozenset[str] = frozenset(
    {"__slots__", "__match_args__", "__all__", "__version__", "__author__"}
)

#: The ``_sunder_`` names of the ``enum`` API an Enum of the code's own may define or read.
ENUM_SUNDERS: frozenset[str] = frozenset(
    {"_missing_", "_generate_next_value_", "_ignore_", "_order_", "_name_", "_value_"}
)

#: Special attributes the code may read (the guards decide on which objects).
READABLE_DUNDERS: frozenset[str] = SPECIAL_METHODS | frozenset(
    {"__name__", "__qualname__", "__doc__", "__module__", "__class__", "__dict__", "__members__",
     "__cause__", "__context__", "__suppress_context__", "__notes__", "__setattr__",
     "__annotations__"}
)  # fmt: skip

_USE_INIT = "set the attributes in __init__"

#: Hooks that stay refused, and what to write instead (each suggestion runs in the sandbox).
REFUSED_HOOKS: Mapping[str, str] = MappingProxyType(
    {
        "__getattr__": f"{_USE_INIT}, or write a method such as get(self, name)",
        "__getattribute__": f"{_USE_INIT}, or write a method such as get(self, name)",
        "__setattr__": "write a method such as set(self, name, value), or use a property "
        "with a setter",
        "__delattr__": "write a method such as remove(self, name)",
        "__del__": "write a close() method, or __enter__/__exit__ to use the object in a "
        "with statement",
        "__new__": "use __init__, or a @classmethod that builds the instance",
        "__init_subclass__": "register subclasses with a class decorator, e.g. "
        "def register(cls): registry[cls.__name__] = cls; return cls",
        "__set_name__": "pass the name to the object explicitly",
        "__get__": "use @property",
        "__set__": "use @property with a setter",
        "__delete__": "use @property with a deleter",
        "__class_getitem__": "subclass typing.Generic, e.g. class Box(Generic[T])",
        "__reduce__": "pickling is not available; copy.copy and copy.deepcopy work on plain "
        "classes, or define __copy__/__deepcopy__",
        "__reduce_ex__": "pickling is not available; copy.copy and copy.deepcopy work on "
        "plain classes, or define __copy__/__deepcopy__",
        "__getstate__": "define __copy__/__deepcopy__ instead",
        "__setstate__": "define __copy__/__deepcopy__ instead",
        "__dir__": "keep the names in a list you create",
        "__mro_entries__": "use a class as the base",
        "__subclasshook__": "use isinstance() with your own base class",
    }
)

#: Hints for special attributes that cannot be read (all suggestions run in the sandbox).
DUNDER_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "__builtins__": "builtins such as len() and sorted() are available directly by name",
        "__import__": "write an import statement for an allowed module",
        "__globals__": "pass values as function arguments",
        "__bases__": "use isinstance(value, SomeType) or issubclass(cls, SomeType)",
        "__mro__": "use isinstance(value, SomeType) or issubclass(cls, SomeType)",
        "__subclasses__": "keep a list of your classes, e.g. with a class decorator",
        "__code__": "call the function instead",
        "__closure__": "pass values as function arguments",
        "__self__": "keep a reference to the object yourself",
        "__func__": "keep a reference to the function yourself",
        "__dataclass_fields__": "use dataclasses.fields(obj)",
        "__file__": "there is no source file; the code runs as a string",
        "__spec__": "there is no module spec; the code runs as a string",
        "__loader__": "there is no module loader; the code runs as a string",
        "__weakref__": "weak references are not available",
        "__wrapped__": "keep a reference to the wrapped function yourself",
        "__defaults__": "pass the values as arguments",
        "__kwdefaults__": "pass the values as arguments",
    }
)


def is_dunder(name: str) -> bool:
    """``__x__`` (at least one character between the underscores)."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_private_name(name: str) -> bool:
    """A name of the code's own: starts with ``_``, is not ``_`` itself nor any of the names
    the sandbox reserves (ending in ``_``, ``_print``, ``_ai_*``)."""
    if name in ENUM_SUNDERS:
        return True
    return (
        name.startswith("_")
        and not name.endswith("_")
        and name != "_print"
        and not name.startswith("_ai_")
    )


def name_hint(name: str) -> str:
    """What to write instead of the refused special or reserved name ``name``."""
    if name in REFUSED_HOOKS:
        return REFUSED_HOOKS[name]
    if name in DUNDER_HINTS:
        return DUNDER_HINTS[name]
    if is_dunder(name):
        return (
            "special attributes other than names (__name__), __class__ and special methods "
            "cannot be read; use isinstance(x, SomeType) for a type check"
        )
    stripped = name.strip("_") or "value"
    return (
        "names ending with '_' (and _print, _ai_*) are reserved for the sandbox; "
        f"use another name, e.g. my_{stripped}"
    )
