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

import collections
import decimal
import operator
import string
import types
from collections.abc import Callable, Mapping
from typing import Any

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.executor.context import AI_FILENAME, SANDBOX_CLASS_MARKER, RunContext
from ai_sandbox.executor.modules import ModuleProxy, is_dangerous_callable
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

        def check_name(name: Any) -> None:
            if type(name) is not str:
                raise TypeError(f"attribute name must be string, not {type(name).__name__!r}")
            if name.startswith("_"):
                refuse(
                    f'"{name}" is an invalid attribute name because it starts with "_": '
                    "private and special attributes are not accessible in the sandbox",
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

        def slow_getattr(obj: Any, name: Any) -> Any:
            check_name(name)
            kind = type(obj)
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
            if name in _FORMAT_METHODS:
                if isinstance(obj, str):
                    return checked_format(obj) if name == "format" else checked_format_map(obj)
                if isinstance(obj, type) and issubclass(obj, str):
                    return unbound_format if name == "format" else unbound_format_map
                template = format_template_of(obj, name, refuse)
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
            if name in _FORMATTER_METHODS and (
                isinstance(obj, string.Formatter)
                or (isinstance(obj, type) and issubclass(obj, string.Formatter))
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
            setattr(guarded_write(obj), name, new)

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
                if isinstance(base, type) and issubclass(base, type):
                    refuse("metaclasses cannot be defined in the sandbox", "class")
                if type(base) is ModuleProxy or type(base) in denied_kinds:
                    refuse(f"cannot subclass a {type(base).__name__}", "class")
            cls = type(name, bases, namespace)
            setattr(cls, SANDBOX_CLASS_MARKER, True)
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
            check_name(name)
            setattr(guarded_write(obj), name, value)

        def safe_delattr(obj: Any, name: Any) -> None:
            check_name(name)
            delattr(guarded_write(obj), name)

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
        self.namespace: dict[str, Any] = {
            "_getattr_": guarded_getattr,
            "_getitem_": guarded_getitem,
            "_getiter_": guarded_getiter,
            "_write_": guarded_write,
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
            "__name__": "ai_code",
        }


def make_guards(ctx: RunContext) -> Guards:
    """The guards of a namespace."""
    return Guards(ctx)
