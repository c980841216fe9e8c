"""The run-time guards RestrictedPython's transformed code calls.

The rule is *allow plain data, deny dangerous kinds*: instead of enumerating attribute names, the
guards refuse whole classes of object. No attribute, item or iteration may produce a module, a
frame, a traceback, a code object, a cell or a C function that reaches the operating system, and
such objects cannot be inspected either. Names starting with ``_`` and the frame/code/hierarchy
names of :data:`~ai_sandbox.executor.transformer.DENIED_ATTRIBUTES` are refused at compile time and
again here whenever a name is computed (``getattr(x, name)``).

The hot path is cheap: exact builtin types (``list``, ``dict``, ``str``...) are answered from a
precomputed table of their public, safe attribute names, and ``_getiter_``/``_getitem_``/``_write_``
pass them through after one type lookup.
"""

from __future__ import annotations

import calendar
import collections
import decimal
import enum
import operator
import string
import types
from collections.abc import Callable, Mapping
from typing import Any

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.executor.context import AI_FILENAME, SANDBOX_CLASS_MARKER, RunContext
from ai_sandbox.executor.modules import ModuleProxy, is_dangerous_callable, owner_allowed
from ai_sandbox.executor.names import (
    ENUM_SUNDERS,
    READABLE_DUNDERS,
    SPECIAL_METHODS,
    is_dunder,
    is_private_name,
    name_hint,
)
from ai_sandbox.executor.printing import Printer
from ai_sandbox.executor.transformer import DENIED_ATTRIBUTES

__all__ = [
    "PASS_THROUGH_TYPES",
    "PLAIN_ATTRIBUTES",
    "PLAIN_WRITE_TYPES",
    "SANDBOX_CLASS_MARKER",
    "WRITABLE_TYPES",
    "Guards",
    "check_format_template",
    "from_metaclass",
    "make_guards",
]

#: Objects that must never reach the AI's code, nor be inspected if they somehow did.
DENIED_KINDS: frozenset[type] = frozenset(
    {
        types.ModuleType,
        types.FrameType,
        types.TracebackType,
        types.CodeType,
        types.CellType,
        types.CoroutineType,
        types.AsyncGeneratorType,
    }
)

_GENERATOR_ATTRIBUTES = frozenset({"send", "throw", "close"})
_FORMAT_METHODS = frozenset({"format", "format_map"})
#: Methods that print to the interpreter's real standard output (``calendar.TextCalendar``).
_STDOUT_METHODS = frozenset({"prmonth", "prweek", "pryear"})
_FORMATTER_METHODS = frozenset({"format", "vformat", "get_field", "get_value", "parse"})

#: Exact builtin data types whose public attributes are all safe to read (less ``format``).
_PLAIN_TYPES: tuple[type, ...] = (
    str, bytes, bytearray, int, float, complex, bool, list, tuple, dict, set, frozenset,
    range, slice, type(None),
)  # fmt: skip

PLAIN_ATTRIBUTES: Mapping[type, frozenset[str]] = types.MappingProxyType(
    {
        t: frozenset(
            n
            for n in dir(t)
            if not n.startswith("_") and n not in DENIED_ATTRIBUTES and n not in _FORMAT_METHODS
        )
        for t in _PLAIN_TYPES
    }
)

#: Iterators over exact builtin containers: they yield the container's own items.
_ITERATED_SAMPLES: tuple[Any, ...] = (
    [], (), "", "\u20ac", b"", bytearray(), set(), frozenset(), {}, {}.items(), {}.values(),
    range(0), range(2**64),
)  # fmt: skip
_REVERSED_SAMPLES: tuple[Any, ...] = ([], {}, {}.items(), {}.values(), range(2**64))
_CONTAINER_ITERATORS: frozenset[type] = frozenset(
    {type(iter(sample)) for sample in _ITERATED_SAMPLES}
    | {type(reversed(sample)) for sample in _REVERSED_SAMPLES}
)

#: Exact types ``_getitem_``/``_getiter_`` pass through unchanged. Generators are not among them:
#: ``_getiter_`` passes through only those of the AI's own code (see ``Guards``).
PASS_THROUGH_TYPES: frozenset[type] = (
    frozenset(_PLAIN_TYPES)
    | _CONTAINER_ITERATORS
    | frozenset({type({}.items()), type({}.keys()), type({}.values()), enumerate, zip, map,
                 filter, reversed})
)  # fmt: skip
#: Exact types ``_write_`` returns unchanged (the compiler inlines this check for names).
PLAIN_WRITE_TYPES: frozenset[type] = frozenset({dict, list, bytearray})

#: Exact types whose instances the code may change (item and attribute assignment, ``del``):
#: those of :data:`PLAIN_WRITE_TYPES` and the ``collections`` containers. Exact types only: an
#: instance of a host class deriving from one of them (a registry, a cache) is host state. The
#: code gets its instances of these types by creating them; a host-owned one cannot reach it:
#: modules expose no instances (``modules.is_exposable``), class-level ones are copied on read
#: (``_COPIED_ON_READ``), and what a module *function* returns was made for that call (the same
#: holds for plain dicts and lists, which are writable anyway). Instances of classes the code
#: defines (``SANDBOX_CLASS_MARKER``, inherited by their subclasses) are writable too.
WRITABLE_TYPES: frozenset[type] = PLAIN_WRITE_TYPES | frozenset(
    {
        collections.deque,
        collections.OrderedDict,
        collections.defaultdict,
        collections.Counter,
        collections.UserDict,
        collections.UserList,
        # every decimal context the code can reach is its own: the run's (see runtime), the
        # namespace's copies of the module's contexts, or one it made
        decimal.Context,
    }
)
#: Class-level values of host classes that are handed out as a copy, never shared.
_COPIED_ON_READ: frozenset[type] = WRITABLE_TYPES | frozenset({set})

INPLACE_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = types.MappingProxyType(
    {
        "+=": operator.iadd,
        "-=": operator.isub,
        "*=": operator.imul,
        "/=": operator.itruediv,
        "//=": operator.ifloordiv,
        "%=": operator.imod,
        "**=": operator.ipow,
        "<<=": operator.ilshift,
        ">>=": operator.irshift,
        "|=": operator.ior,
        "^=": operator.ixor,
        "&=": operator.iand,
        "@=": operator.imatmul,
    }
)


#: Only its ``parse`` method is used (a pure function of the template).
_FORMAT_PARSER = string.Formatter()


def guarded_unpack_sequence(it: Any, spec: Mapping[str, Any], getiter: Callable[[Any], Any]) -> Any:
    """RestrictedPython's nested-unpack guard: every level is iterated through ``getiter``."""
    ret = list(getiter(it))
    if len(ret) < spec["min_len"]:
        return ret
    for idx, child_spec in spec["childs"]:
        ret[idx] = guarded_unpack_sequence(ret[idx], child_spec, getiter)
    return ret


def from_metaclass(cls: type, name: str) -> bool:
    """True when ``cls.name`` is served by the class's metaclass, not the class: machinery
    such as ``ABCMeta.register``, whose effect (a virtual subclass, cached by every ABC above
    it) is process-wide, also through a subclass defined in the sandbox."""
    if any(name in vars(klass) for klass in cls.__mro__):
        return False
    metaclass: type = type(cls)
    return any(name in vars(meta) for meta in metaclass.__mro__)


def is_host_class_value(obj: Any, name: str, value: Any) -> bool:
    """Whether ``value``, just read as ``obj.name``, is the class-level object of a host class
    (however it was reached: on the class, on an instance, or through a subclass the code
    defined), as opposed to an instance's own value or one of the code's own classes."""
    mro = obj.__mro__ if isinstance(obj, type) else type(obj).__mro__
    for klass in mro:
        namespace = vars(klass)
        if name in namespace:
            return namespace[name] is value and SANDBOX_CLASS_MARKER not in namespace
    return False


def format_template_of(obj: Any, name: str, refuse: Callable[[str, str], Any]) -> str | None:
    """The template that ``obj.format``/``obj.format_map`` would hand to ``str.format``
    unchecked, for host classes that wrap a string (``collections.UserString``); refuses such
    a method when the template is not a string (``None``: ``obj`` is no such wrapper)."""
    if isinstance(obj, type) and issubclass(obj, collections.UserString):
        refuse(f"UserString.{name} is only available on an instance in the sandbox", "format")
    if not isinstance(obj, collections.UserString):
        return None
    owner = next(klass for klass in type(obj).__mro__ if name in vars(klass))
    if SANDBOX_CLASS_MARKER in vars(owner):
        return None  # the code's own method, which formats through the guarded str.format
    data = obj.data
    if not isinstance(data, str):
        refuse(f"UserString.{name} needs string data", "format")
    return str.__str__(data)


def _kind_name(value: Any) -> str:
    return type(value).__name__


def check_format_template(ctx: RunContext, template: str) -> None:
    """Refuse format fields that look attributes or items up (``{0.x}``, ``{a[0]}``)."""
    for _literal, field, spec, _conversion in _FORMAT_PARSER.parse(template):
        if field is None:
            continue
        if field and not (field.isdigit() or field.isidentifier()):
            ctx.refuse(
                f"format field {{{field}}} is not allowed: attribute ('.') and index ('[')"
                " lookups inside format strings are refused. Compute the value first and pass"
                f" it, e.g. '{{}}'.format(obj.name), or use an f-string: f'{{obj.name}}'",
                "format",
            )
        if spec and "{" in spec:
            check_format_template(ctx, spec)


#: Exact types whose instances ``type(x)`` and ``x.__class__`` may return as they are (besides
#: the code's own classes, exceptions and the classes of allowed modules).
TYPE_RESULTS: frozenset[type] = frozenset(
    {
        bool, bytearray, bytes, complex, dict, float, frozenset, int, list, object, range, set,
        slice, str, tuple, type(None), enumerate, zip, map, filter, reversed,
        collections.Counter, collections.OrderedDict, collections.defaultdict, collections.deque,
        # what type(f).__name__ names for functions, methods and generators (none of them can
        # be built from what the code holds: there is no code object or frame to give them)
        types.FunctionType, types.MethodType, types.GeneratorType,
    }
)  # fmt: skip

#: Exception attributes naming other exceptions (``raise ... from``); never the traceback.
_EXCEPTION_DUNDERS = frozenset({"__cause__", "__context__", "__suppress_context__", "__notes__"})

#: Special methods that change the object they are bound to: read only from objects the code
#: may change (as ``_write_`` decides), or unbound from a class.
_MUTATING_SPECIALS: frozenset[str] = frozenset(
    {"__init__", "__post_init__", "__setitem__", "__delitem__"}
    | {n for n in SPECIAL_METHODS if n.startswith("__i") and n not in ("__int__", "__index__",
       "__invert__", "__iter__", "__init__")}
)  # fmt: skip

#: Builtin types whose class pattern matches the subject itself (``case int(x)``).
_SELF_MATCHING: frozenset[type] = frozenset(
    {bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple}
)

_NAME_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})


#: The pickling entry points host Python code (``copy``, also inside ``dataclasses.asdict`` and
#: ``UserDict.copy``) looks up on an *instance* with ``getattr``, so an entry in the instance's
#: own ``__dict__`` (which the code reaches through ``vars(obj)``/``obj.__dict__``) would win
#: over the class: a planted ``__reduce_ex__`` made ``copy`` rebuild any object of the code's
#: choosing with ``setattr``. Neither is a type slot, so a data descriptor on the class changes
#: nothing else (``__getstate__``/``__setstate__`` are left alone: ``dataclass(slots=True)``
#: adds its own unless the class dict has them; see :class:`ClassLevelHook` for how an
#: instance's planted ``__getstate__`` is kept out).
INSTANCE_HOOKS: frozenset[str] = frozenset({"__reduce_ex__", "__reduce__"})

_ABSENT = object()


#: Special names the host itself stores in the code's instances: ``typing`` records the alias
#: an instance of a generic class was made from (``Box[int]()``).
_HOST_SET_INSTANCE_NAMES = frozenset({"__orig_class__"})


def _special_keys(obj: Any) -> bool:
    """Whether ``obj``'s own ``__dict__`` holds a special name the host did not put there (or
    a ``str`` subclass key)."""
    found = getattr(obj, "__dict__", None)
    if type(found) is not dict:
        return False
    return any(
        isinstance(k, str)
        and (type(k) is not str or (is_dunder(k) and k not in _HOST_SET_INSTANCE_NAMES))
        for k in found
    )


class ClassLevelHook:
    """A data descriptor the code's classes carry for each of :data:`INSTANCE_HOOKS`: the hook
    is always the class's (the next definition along the MRO), never the instance's own
    ``__dict__`` entry; it cannot be set or deleted on an instance. An instance whose
    ``__dict__`` holds special names (a planted ``__getstate__``, which ``object.__reduce_ex__``
    would call) cannot be pickled or copied at all."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        cls = owner if owner is not None else type(obj)
        if obj is not None and _special_keys(obj):
            raise TypeError(
                f"cannot copy a {cls.__name__} object whose __dict__ holds special names"
            )
        for klass in cls.__mro__:
            value = vars(klass).get(self.name, _ABSENT)
            if value is _ABSENT or type(value) is ClassLevelHook:
                continue
            bind = getattr(type(value), "__get__", None)
            return value if bind is None else bind(value, obj, cls)
        raise AttributeError(f"{cls.__name__!r} object has no attribute {self.name!r}")

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{self.name} cannot be set on an instance in the sandbox")

    def __delete__(self, obj: Any) -> None:
        raise AttributeError(f"{self.name} cannot be deleted in the sandbox")


def without_traceback(exit_method: Any) -> Callable[..., Any]:
    """The ``__exit__`` of a class of the code's: the interpreter hands an exit method the
    exception's traceback, which must never reach the code (its frames hold the host's
    globals); the code's method gets ``None`` in its place (the exception itself is intact,
    and its ``__traceback__`` cannot be read)."""

    def __exit__(self: Any, exc_type: Any, exc: Any, tb: Any, /) -> Any:
        bind = getattr(type(exit_method), "__get__", None)
        method = exit_method if bind is None else bind(exit_method, self, type(self))
        return method(exc_type, exc, None)

    return __exit__


def own_class(klass: type) -> bool:
    """Whether ``klass`` itself was defined by the code (not merely derived from one)."""
    return SANDBOX_CLASS_MARKER in vars(klass)


def private_lookup_classes(obj: Any) -> tuple[tuple[type, ...], bool]:
    """The classes an attribute lookup on ``obj`` searches, and whether the instance's own
    ``__dict__`` is searched too (``super()`` objects start after their class)."""
    if type(obj) is super:
        found: Any = obj
        mro = found.__self_class__.__mro__
        return mro[mro.index(found.__thisclass__) + 1 :], False
    if isinstance(obj, type):
        return obj.__mro__, False
    return type(obj).__mro__, True


def private_owner(obj: Any, name: str) -> bool | None:
    """Where the private attribute ``obj.name`` comes from: True for the code's own class or
    instance, False for a class from a module, None when nothing defines it (an instance of the
    code's own class may still hold it in its ``__dict__``)."""
    classes, instance = private_lookup_classes(obj)
    for klass in classes:
        if name in vars(klass):
            return own_class(klass)
    if instance and getattr(type(obj), SANDBOX_CLASS_MARKER, False) is True:
        return True
    return None


class Guards:
    """The guard functions of one namespace, closed over its :class:`RunContext`."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        refuse = ctx.refuse
        plain = PLAIN_ATTRIBUTES
        pass_through = PASS_THROUGH_TYPES
        denied_kinds = DENIED_KINDS
        denied_names = DENIED_ATTRIBUTES
        inplace = INPLACE_OPERATORS
        writable = WRITABLE_TYPES
        allowed_modules = ctx.policy.allowed_imports
        generator = types.GeneratorType

        def check_value(value: Any) -> Any:
            if type(value) in denied_kinds or isinstance(value, types.ModuleType):
                refuse(f"a {_kind_name(value)} object cannot be used in the sandbox", "attribute")
            if is_dangerous_callable(value, allowed_modules):
                refuse(f"the builtin {value.__name__}() is not available here", "attribute")
            return value

        def check_unpacked(item: Any) -> Any:
            # ``for a, b in it``: the interpreter unpacks ``item`` unguarded, so its parts are
            # checked here (as a tuple: unpacking consumes the item anyway).
            return tuple(guarded_getiter(check_value(item)))

        def check_name(name: Any, writing: bool = False) -> None:
            if type(name) is not str:
                raise TypeError(f"attribute name must be string, not {type(name).__name__!r}")
            if name.startswith("_") and not (
                is_private_name(name) or (not writing and name in READABLE_DUNDERS)
            ):
                refuse(
                    f'"{name}" is an invalid attribute name because it starts with "_": '
                    "reserved and special attributes are not accessible in the sandbox. "
                    f"Instead: {name_hint(name)}",
                    "attribute",
                )
            if name in denied_names:
                refuse(
                    f'"{name}" is a restricted name: frames, tracebacks, code objects and the '
                    "class hierarchy cannot be inspected in the sandbox",
                    "attribute",
                )

        def checked_format(template: str) -> Callable[..., str]:
            def format(*args: Any, **kwargs: Any) -> str:
                check_format_template(ctx, template)
                return str.format(template, *args, **kwargs)

            return format

        def checked_format_map(template: str) -> Callable[[Any], str]:
            def format_map(mapping: Any) -> str:
                check_format_template(ctx, template)
                return str.format_map(template, mapping)

            return format_map

        def unbound_format(template: Any, *args: Any, **kwargs: Any) -> str:
            if not isinstance(template, str):
                raise TypeError("descriptor 'format' requires a 'str' object")
            return checked_format(template)(*args, **kwargs)

        def unbound_format_map(template: Any, mapping: Any) -> str:
            if not isinstance(template, str):
                raise TypeError("descriptor 'format_map' requires a 'str' object")
            return checked_format_map(template)(mapping)

        def type_of(obj: Any) -> type:
            cls = type(obj)
            if cls is type:
                return sandbox_type
            module = getattr(cls, "__module__", None)
            if (
                cls in TYPE_RESULTS
                or getattr(cls, SANDBOX_CLASS_MARKER, False) is True
                or issubclass(cls, BaseException)
                or (not issubclass(cls, type) and owner_allowed(module, allowed_modules))
            ):
                return cls
            refuse(
                f"type() of a {cls.__name__} object is not available in the sandbox; "
                "use isinstance(value, SomeType)",
                "type",
            )

        def private_getattr(obj: Any, name: str) -> Any:
            # The code's private names are served only from its own classes and instances:
            # never a private attribute of a module, a host object or a host base class.
            if type(obj) is ModuleProxy or private_owner(obj, name) is not True:
                refuse(
                    f'"{name}" is a private attribute of a {type(obj).__name__} object: only '
                    "private attributes of your own classes and objects are accessible",
                    "attribute",
                )
            return check_value(getattr(obj, name))

        def dunder_getattr(obj: Any, name: str) -> Any:
            kind = type(obj)
            if kind is ModuleProxy or kind in denied_kinds:
                refuse(f"{name} of a {kind.__name__} object is not accessible", "attribute")
            if name == "__class__":
                return type_of(obj)
            if name in _NAME_DUNDERS:
                value = getattr(obj, name)
                if value is not None and type(value) is not str:
                    refuse(f"{name} of this object is not a name", "attribute")
                return value
            if name == "__dict__":
                if isinstance(obj, type) or getattr(kind, SANDBOX_CLASS_MARKER, False) is not True:
                    refuse(
                        "__dict__ is only available on instances of your own classes; keep "
                        "data in a dict you create",
                        "attribute",
                    )
                return obj.__dict__
            if name == "__annotations__":
                own = (isinstance(obj, type) and own_class(obj)) or (
                    kind is types.FunctionType and obj.__code__.co_filename == AI_FILENAME
                )
                if not own:
                    refuse(
                        "__annotations__ is only available on your own classes and functions; "
                        "use typing.get_type_hints(cls) or dataclasses.fields(cls)",
                        "attribute",
                    )
                # a copy: ``@dataclass`` turns a class's annotation names into source text
                return dict(obj.__annotations__)
            if name in _EXCEPTION_DUNDERS:
                if not isinstance(obj, BaseException):
                    refuse(f"{name} is only available on an exception", "attribute")
                return check_value(getattr(obj, name))
            if name == "__members__":
                if not isinstance(obj, enum.EnumType):
                    refuse("__members__ is only available on an Enum class", "attribute")
                return obj.__members__
            if name == "__setattr__":
                if obj is not object:
                    refuse(
                        "__setattr__ is only available as object.__setattr__(self, name, value)",
                        "attribute",
                    )
                return object_setattr  # frozen dataclasses: object.__setattr__(self, "x", v)
            # a special method: never the class machinery's (metaclasses, ``type.__call__``)
            if (isinstance(obj, type) and (issubclass(obj, type) or from_metaclass(obj, name))) or (
                obj is sandbox_type
            ):
                refuse(
                    f"{name} of a class is not available here: it belongs to the class "
                    "machinery; call the class or the method directly",
                    "attribute",
                )
            if name in _MUTATING_SPECIALS and not isinstance(obj, type):
                guarded_write(obj.__self__ if kind is super else obj)
            return check_value(getattr(obj, name))

        def object_setattr(obj: Any, name: Any, value: Any) -> None:
            # ``object.__setattr__``, for the code's own objects and names only (it skips the
            # class's own __setattr__, as a frozen dataclass's __post_init__ needs)
            check_name(name, writing=True)
            object.__setattr__(write_attribute(obj, name), name, value)

        object_setattr.__name__ = object_setattr.__qualname__ = "__setattr__"

        def sandbox_vars(*args: Any) -> dict[str, Any]:
            if (
                len(args) == 1
                and getattr(type(args[0]), SANDBOX_CLASS_MARKER, False) is True
                and not isinstance(args[0], type)
            ):
                found: dict[str, Any] = args[0].__dict__
                return found
            refuse(
                "vars() only takes an instance of your own classes in the sandbox; keep "
                "values in a dict you create",
                "builtin",
            )

        def slow_getattr(obj: Any, name: Any) -> Any:
            check_name(name)
            kind = type(obj)
            if name[0] == "_" and name != "_":
                if is_dunder(name):
                    return dunder_getattr(obj, name)
                return private_getattr(obj, name)
            if kind is ModuleProxy:
                try:
                    return getattr(obj, name)
                except SecurityError as exc:
                    ctx.note(exc)
                    raise
            if kind in denied_kinds or isinstance(obj, types.ModuleType):
                refuse(f"a {kind.__name__} object cannot be inspected in the sandbox", "attribute")
            if kind is types.GeneratorType and name not in _GENERATOR_ATTRIBUTES:
                refuse(f"generator attribute {name!r} is not accessible", "attribute")
            # what the name would be looked up on: ``super()`` reaches its object's methods
            # (``super().format`` of a str subclass is ``str.format`` of that string)
            probe = obj.__self__ if kind is super else obj
            if name in _FORMAT_METHODS:
                if isinstance(probe, str):
                    template_of_str = str.__str__(probe)
                    if name == "format":
                        return checked_format(template_of_str)
                    return checked_format_map(template_of_str)
                if isinstance(probe, type) and issubclass(probe, str):
                    return unbound_format if name == "format" else unbound_format_map
                template = format_template_of(probe, name, refuse)
                if template is not None:
                    return (
                        checked_format(template)
                        if name == "format"
                        else checked_format_map(template)
                    )
            if isinstance(obj, type) and from_metaclass(obj, name):
                refuse(
                    f"{obj.__name__}.{name} is not available in the sandbox: it belongs to the "
                    "class machinery (its metaclass), and changes such as ABC registration "
                    "would affect every type in the process",
                    "attribute",
                )
            if name in _STDOUT_METHODS and (
                isinstance(probe, calendar.TextCalendar)
                or (isinstance(probe, type) and issubclass(probe, calendar.TextCalendar))
            ):
                refuse(
                    f"TextCalendar.{name} prints to the interpreter's own output; write "
                    f"print(cal.format{name[2:]}(...)) instead",
                    "print",
                )
            if name in _FORMATTER_METHODS and (
                isinstance(probe, string.Formatter)
                or (isinstance(probe, type) and issubclass(probe, string.Formatter))
            ):
                refuse("string.Formatter is not available in the sandbox", "format")
            value = check_value(getattr(obj, name))
            if type(value) in _COPIED_ON_READ and is_host_class_value(obj, name, value):
                return value.copy()  # class-level state of a host class: never shared
            return value

        def guarded_getattr(obj: Any, name: str) -> Any:
            allowed = plain.get(type(obj))
            if allowed is not None and name in allowed:
                return getattr(obj, name)
            return slow_getattr(obj, name)

        def guarded_getitem(obj: Any, key: Any) -> Any:
            kind = type(obj)
            if kind in pass_through:
                return obj[key]
            if kind is ModuleProxy or kind in denied_kinds:
                refuse(f"a {kind.__name__} object cannot be indexed in the sandbox", "item")
            return check_value(obj[key])

        def guarded_getiter(obj: Any) -> Any:
            # Exact builtin containers (and their iterators) and the code's own generators
            # yield what the code put in them: passed through. Anything else (a deque, an
            # instance of a class, a host generator, an itertools object over such values) is
            # iterated with every item checked, as ``_getitem_`` checks what it returns.
            kind = type(obj)
            if kind in pass_through:
                return obj
            if kind is generator and obj.gi_code.co_filename == AI_FILENAME:
                return obj
            if kind is ModuleProxy or kind in denied_kinds:
                refuse(f"a {kind.__name__} object cannot be iterated in the sandbox", "iter")
            return map(check_value, obj)

        def check_iterable(obj: Any) -> Any:
            kind = type(obj)
            if kind is ModuleProxy or kind in denied_kinds:
                refuse(f"a {kind.__name__} object cannot be iterated in the sandbox", "iter")
            return obj

        def guarded_write(obj: Any) -> Any:
            kind = type(obj)
            if kind in writable:
                return obj
            if getattr(kind, SANDBOX_CLASS_MARKER, False) is True or (
                isinstance(obj, type) and getattr(obj, SANDBOX_CLASS_MARKER, False) is True
            ):
                return obj  # an instance of a class defined in the code, or such a class
            if kind is types.FunctionType and obj.__code__.co_filename == AI_FILENAME:
                return obj  # a function of the code's (``wrapper.calls = 0``)
            refuse(
                f"cannot modify a {kind.__name__} object: only dicts, lists, the collections "
                "containers and instances of classes defined in your code can be changed; "
                "build a new value instead",
                "write",
            )

        def inplacevar(op: str, target: Any, value: Any) -> Any:
            return inplace[op](target, value)

        def inplace_item(obj: Any, key: Any, op: str, value: Any) -> None:
            new = inplace[op](guarded_getitem(obj, key), value)
            guarded_write(obj)[key] = new

        def inplace_attr(obj: Any, name: str, op: str, value: Any) -> None:
            new = inplace[op](guarded_getattr(obj, name), value)
            setattr(write_attribute(obj, name), name, new)

        def write_attribute(obj: Any, name: str) -> Any:
            # ``obj._x = v`` (and ``setattr``): a private name only on the code's own objects,
            # and never one that a class from a module defines (a host base class's
            # internals, which its own methods would then use).
            target = guarded_write(obj)
            if name[0] == "_":
                classes, _instance = private_lookup_classes(obj)
                for klass in classes:
                    if name in vars(klass) and not own_class(klass):
                        refuse(
                            f'"{name}" belongs to {klass.__name__}, a class from a module; '
                            "use another name for your own attribute",
                            "write",
                        )
            return target

        def apply(func: Any, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        def unpack_sequence(it: Any, spec: Any, getiter: Any) -> Any:
            if not spec["childs"] and type(it) in pass_through:
                return it
            return guarded_unpack_sequence(it, spec, guarded_getiter)

        def iter_unpack_sequence(it: Any, spec: Any, getiter: Any) -> Any:
            # A flat target (``for k, v in ...``) is unpacked by the interpreter from items
            # that the guarded iteration produced: items of exact builtin containers pass
            # through; those of anything else are checked part by part.
            if not spec["childs"]:
                kind = type(it)
                if kind in pass_through or (
                    kind is generator and it.gi_code.co_filename == AI_FILENAME
                ):
                    return it
                return map(check_unpacked, check_iterable(it))
            return (
                guarded_unpack_sequence(item, spec, guarded_getiter) for item in guarded_getiter(it)
            )

        def sandbox_class(name: str, bases: tuple[Any, ...], namespace: dict[str, Any],
                          **kwargs: Any) -> type:  # fmt: skip
            if kwargs:
                refuse("class keyword arguments are not allowed in the sandbox", "class")
            for base in bases:
                if (isinstance(base, type) and issubclass(base, type)) or base is sandbox_type:
                    refuse("metaclasses cannot be defined in the sandbox", "class")
                if type(base) is ModuleProxy or type(base) in denied_kinds:
                    refuse(f"cannot subclass a {type(base).__name__}", "class")
            for attr in namespace:
                if attr[0] == "_" and is_private_name(attr) and attr not in ENUM_SUNDERS:
                    for base in bases:
                        for klass in base.__mro__ if isinstance(base, type) else ():
                            if attr in vars(klass) and not own_class(klass):
                                refuse(
                                    f'"{attr}" belongs to {klass.__name__}, a class from a '
                                    "module; give your attribute another name",
                                    "class",
                                )
            if "__exit__" in namespace:
                dict.__setitem__(namespace, "__exit__", without_traceback(namespace["__exit__"]))
            # marked before it is built: an Enum runs its members' __init__ while it is built
            dict.__setitem__(namespace, SANDBOX_CLASS_MARKER, True)
            cls = type(name, bases, namespace)
            setattr(cls, SANDBOX_CLASS_MARKER, True)
            if vars(cls).get("_is_protocol") is not True:  # a Protocol's names are its API
                for hook in INSTANCE_HOOKS:
                    if hook not in vars(cls) and hasattr(cls, hook):
                        type.__setattr__(cls, hook, ClassLevelHook(hook))
            return cls

        def safe_getattr(obj: Any, name: Any, *default: Any) -> Any:
            check_name(name)
            if len(default) > 1:
                raise TypeError(f"getattr expected at most 3 arguments, got {2 + len(default)}")
            try:
                return guarded_getattr(obj, name)
            except AttributeError:
                if default:
                    return default[0]
                raise

        def safe_hasattr(obj: Any, name: Any) -> bool:
            check_name(name)
            try:
                guarded_getattr(obj, name)
            except AttributeError:
                return False
            return True

        def safe_setattr(obj: Any, name: Any, value: Any) -> None:
            check_name(name, writing=True)
            setattr(write_attribute(obj, name), name, value)

        def safe_delattr(obj: Any, name: Any) -> None:
            check_name(name, writing=True)
            delattr(write_attribute(obj, name), name)

        def guarded_super(*args: Any) -> super:
            if len(args) != 2:
                raise RuntimeError(
                    "super(): no arguments; call it inside a method, or write "
                    "super(ClassName, self)"
                )
            cls, obj = args
            if not isinstance(cls, type):
                raise TypeError("super() argument 1 must be a class")
            if issubclass(cls, type) or cls is sandbox_type:
                refuse("super() of the class machinery (type) is not available", "class")
            return super(cls, obj)

        sandbox_type = make_sandbox_type(lambda *args: type_call(*args))

        def type_call(*args: Any) -> type:
            if len(args) != 1:
                refuse(
                    "type() with three arguments (creating classes) is not allowed; "
                    "use a class statement",
                    "type",
                )
            return type_of(args[0])

        def match_ok(classes: tuple[tuple[Any, int, int], ...], captured: tuple[Any, ...]) -> bool:
            # Runs right after a case's pattern matched, before its own guard: the interpreter
            # read the pattern's attributes without our guards, so a class pattern with
            # sub-patterns must be one of the code's own classes (all of its bases too, so
            # every attribute is the code's) or a builtin type matched by itself.
            for cls, positional, keywords in classes:
                if isinstance(cls, type) and cls in _SELF_MATCHING and not keywords:
                    continue
                own = (
                    isinstance(cls, type)
                    and own_class(cls)
                    and all(own_class(k) for k in cls.__mro__[:-1])
                )
                names = getattr(cls, "__match_args__", ()) if positional else ()
                if not own or not all(
                    type(n) is str and (n[0] != "_" or is_private_name(n)) for n in names
                ):
                    refuse(
                        "class patterns with sub-patterns only work on classes defined in "
                        "your code (and int(x), str(x)...); for other objects use "
                        "isinstance() and read the attributes",
                        "attribute",
                    )
            for value in captured:
                check_value(value)
            return True

        def prepare(name: str, bases: tuple[Any, ...], **kwargs: Any) -> Any:
            # the namespace the bases' metaclass expects (an Enum's body needs its own dict)
            meta: type = type
            for base in bases:
                kind = type(base)
                if isinstance(base, type) and issubclass(kind, meta):
                    meta = kind
            return meta.__prepare__(name, bases)

        sandbox_class.__prepare__ = prepare  # type: ignore[attr-defined]

        self.check_value = check_value
        self.check_iterable = check_iterable
        self.getattr = guarded_getattr
        self.getitem = guarded_getitem
        self.getiter = guarded_getiter
        self.write = guarded_write
        self.safe_getattr = safe_getattr
        self.safe_hasattr = safe_hasattr
        self.safe_setattr = safe_setattr
        self.safe_delattr = safe_delattr
        self.type_of = type_of
        #: The namespace the code runs in (set by ``runtime`` once built).
        self.namespace_globals: dict[str, Any] = {}
        self.sandbox_type = sandbox_type
        self.super = guarded_super
        self.vars = sandbox_vars
        self.namespace: dict[str, Any] = {
            "_getattr_": guarded_getattr,
            "_getitem_": guarded_getitem,
            "_getiter_": guarded_getiter,
            "_write_": guarded_write,
            "_write_attr_": write_attribute,
            "_match_ok_": match_ok,
            "_inplacevar_": inplacevar,
            "_inplaceitem_": inplace_item,
            "_inplaceattr_": inplace_attr,
            "_apply_": apply,
            "_unpack_sequence_": unpack_sequence,
            "_iter_unpack_sequence_": iter_unpack_sequence,
            "_print_": Printer.factory(ctx),
            # The compiler's inline fast paths: exact types for which a guard is the identity.
            "_type_": type,
            "_plain_attr_": frozenset(PLAIN_ATTRIBUTES),
            "_plain_item_": PASS_THROUGH_TYPES,
            "_plain_write_": PLAIN_WRITE_TYPES,
            "__metaclass__": sandbox_class,
            "__name__": "__main__",
        }


class _TypeMeta(type):
    """The metaclass of the sandbox's ``type``: ``isinstance(C, type)`` and ``issubclass``
    answer as for the real ``type``; calling it is the guarded one-argument ``type(x)``."""

    _ai_call: Callable[..., type]

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, type)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return sub is cls or (isinstance(sub, type) and issubclass(sub, type))

    def __call__(cls, *args: Any) -> type:
        return cls._ai_call(*args)

    def __repr__(cls) -> str:
        return "<class 'type'>"


def make_sandbox_type(call: Callable[..., type]) -> type:
    """The ``type`` of one namespace: a class (so it can be the second argument of
    ``isinstance``) whose call is ``call``."""
    sandbox_type = _TypeMeta("type", (), {"__module__": "builtins", "__slots__": ()})
    sandbox_type._ai_call = staticmethod(call)
    return sandbox_type


def make_guards(ctx: RunContext) -> Guards:
    """The guards of a namespace."""
    return Guards(ctx)
