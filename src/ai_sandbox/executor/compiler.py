"""Compile AI code with RestrictedPython under our reviewed policy, and cache the result.

:class:`AgentPolicy` is RestrictedPython's transformer with these reviewed changes, each mapped
onto the run-time guards so nothing escapes them:

* ``a[k] += v`` becomes ``_inplaceitem_(a, k, "+=", v)`` (``_getitem_``, the operator, then
  ``_write_``) and ``obj.attr += v`` becomes ``_inplaceattr_(obj, "attr", "+=", v)`` (the name
  is checked here exactly like any attribute);
* ``x += v`` on a plain name is left to the interpreter: ``_inplacevar_`` protected nothing under
  our guards (every object the code can name is one it may already change through its methods;
  host-owned containers are never handed out), and it cost a call per iteration;
* ``x: int = 1`` becomes ``x = 1`` (the annotation is dropped, never evaluated);
* when the object of ``a.b``, ``a[k]`` or a store is a plain *name* inside code that can run
  repeatedly (a function, lambda, loop or comprehension), the guard call is wrapped in an
  inline exact-type test that skips it only for the builtin types where the guard is the
  identity (:meth:`AgentPolicy.inline_guard`);
* attribute names that walk frames, code objects or the class hierarchy are refused, and every
  refusal carries a hint saying what to write instead.

Everything else is RestrictedPython's own policy, including its rule that any AST node without a
``visit_`` method is refused, so new syntax fails closed. :class:`FastAgentPolicy` applies the same
rules with a cheaper traversal.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import CodeType, MappingProxyType
from typing import Any

from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

from ai_sandbox.executor.context import AI_FILENAME

#: What a ``visit_*`` method may return (a node, nodes replacing it, or None to drop it).
VisitResult = ast.AST | Iterable[ast.AST] | None

__all__ = [
    "DENIED_ATTRIBUTES",
    "LEAF_NODES",
    "AgentPolicy",
    "CompileCache",
    "CompileRefusal",
    "FastAgentPolicy",
    "compile_ai_code",
]

#: Attribute names refused on every object, also when computed at run time: frame, traceback,
#: generator and code-object walks and the class hierarchy.
DENIED_ATTRIBUTES: frozenset[str] = INSPECT_ATTRIBUTES | frozenset(
    {
        "mro",
        "f_lasti",
        "f_lineno",
        "f_trace_lines",
        "f_trace_opcodes",
        "tb_lasti",
        "tb_lineno",
        "gi_running",
        "gi_suspended",
        "cr_running",
        "cr_suspended",
        "ag_running",
        "co_consts",
        "co_names",
        "co_varnames",
        "co_filename",
        "co_lnotab",
        "co_linetable",
        "co_exceptiontable",
        "co_positions",
        "co_lines",
        "co_name",
        "co_qualname",
        "co_flags",
        "co_freevars",
        "co_cellvars",
        "co_firstlineno",
        "func_globals",
        "func_code",
        "im_func",
        "im_self",
    }
)

_NAME_HINTS = {
    "__class__": "use isinstance(value, SomeType) to check a type",
    "__name__": "keep names in your own variables or a dict",
    "__dict__": "keep data in a dict you create",
    "__import__": "write an import statement for an allowed module",
    "__builtins__": "builtins such as len() and sorted() are available directly by name",
    "__globals__": "pass values as function arguments instead",
    "__len__": "call len(x)",
    "__iter__": "call iter(x) or loop with for",
    "__str__": "call str(x); special methods other than __init__, __contains__ and comparisons "
    "cannot be defined, write a method such as describe(self) instead",
    "__repr__": "call repr(x); special methods other than __init__, __contains__ and "
    "comparisons cannot be defined, write a method such as describe(self) instead",
}

_UNDERSCORE = re.compile(r'^"(?P<name>[^"]+)" is an invalid (?P<kind>variable|attribute) name')


def _hint(info: str) -> str:
    """Append to a RestrictedPython refusal what the model should write instead."""
    if not info.endswith("."):
        info += "."
    match = _UNDERSCORE.match(info)
    if match:
        name = match["name"]
        if name in _NAME_HINTS:
            return f"{info} Instead: {_NAME_HINTS[name]}."
        if match["kind"] == "attribute":
            return (
                f"{info} Names starting with '_' are private in the sandbox; use a public name "
                f"(e.g. self.{name.lstrip('_') or 'value'})."
            )
        return (
            f"{info} Names starting with '_' are reserved in the sandbox; rename it "
            f"(e.g. {name.lstrip('_') or 'value'}_)."
        )
    if "Exec calls" in info or "Eval calls" in info:
        return f"{info} Write the code directly instead of building it as a string."
    if "is a restricted name" in info:
        return f"{info} Frames, tracebacks and code objects cannot be inspected in the sandbox."
    if info.startswith("Nonlocal"):
        return f"{info} Keep shared state in a dict or list, or return the new value."
    if info.startswith(("AsyncFunctionDef", "Await", "AsyncFor", "AsyncWith")):
        return f"{info} Write synchronous code; async is not available in the sandbox."
    if info.startswith("Match"):
        return f"{info} Use if/elif chains instead of match."
    if info.startswith("TryStar"):
        return f"{info} Use plain try/except instead of except*."
    if '"*" imports' in info:
        return f"{info} Import the names you need explicitly."
    return info


#: Literal attribute names that never take the inline fast path (``str.format`` is guarded).
_NOT_INLINED = frozenset({"format", "format_map"})


def _name(identifier: str) -> ast.Name:
    return ast.Name(identifier, ast.Load())


class AgentPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the reviewed widenings described in the module docstring.

    This is the reference implementation, built on RestrictedPython's own traversal;
    :class:`FastAgentPolicy` produces the same tree faster and is what :func:`compile_ai_code`
    uses (a test compares the two on a corpus).
    """

    def __init__(
        self,
        errors: list[str] | None = None,
        warnings: list[str] | None = None,
        used_names: dict[str, bool] | None = None,
    ) -> None:
        super().__init__(errors, warnings, used_names)
        self.first_error_line: int | None = None
        #: How many function bodies, lambdas, loops or comprehensions enclose the current node:
        #: only there can code run more than once, so only there are guards inlined.
        self.repeats = 0

    def error(self, node: ast.AST, info: str) -> None:
        lineno = getattr(node, "lineno", None)
        if self.first_error_line is None:
            self.first_error_line = lineno
        self.errors.append(f"Line {lineno}: {_hint(info)}")

    def locate(self, new_node: ast.AST, old_node: ast.AST) -> None:
        """Give ``new_node`` (and its new, unlocated children) the location of ``old_node``."""
        copy_locations(new_node, old_node)  # type: ignore[arg-type]

    def check_attribute_name(self, node: ast.AST, name: str) -> None:
        """RestrictedPython's attribute-name rules, plus our extra denied names."""
        if name.startswith("_") and name != "_":
            self.error(node, f'"{name}" is an invalid attribute name because it starts with "_".')
        if name.endswith("__roles__"):
            self.error(
                node, f'"{name}" is an invalid attribute name because it ends with "__roles__".'
            )
        if name in DENIED_ATTRIBUTES:
            self.error(
                node, f'"{name}" is a restricted name, that is forbidden to access in the sandbox.'
            )

    def inline_guard(
        self, container: ast.Name, fast: ast.expr, guarded: ast.expr, kinds: str
    ) -> ast.expr:
        """``fast if type(container) in <kinds> else guarded``.

        Only for a plain name (loading it twice has no side effect and yields the same object,
        because nothing is evaluated between the two loads), and only for the exact builtin
        types for which the guard is the identity (``guards.py`` owns the sets, a test pins
        them), so the guard's semantics are unchanged; everything else calls the guard.
        """
        test = ast.Compare(
            left=ast.Call(func=_name("_type_"), args=[_name(container.id)], keywords=[]),
            ops=[ast.In()],
            comparators=[_name(kinds)],
        )
        return ast.IfExp(test=test, body=fast, orelse=guarded)

    def visit_Attribute(self, node: ast.Attribute) -> VisitResult:
        """``a.b`` -> ``_getattr_(a, "b")``; ``a.b = c`` -> ``_write_(a).b = c``."""
        self.check_attribute_name(node, node.attr)
        node = self.node_contents_visit(node)
        value = node.value
        if isinstance(node.ctx, ast.Load):
            new_node: ast.expr = ast.Call(
                func=_name("_getattr_"), args=[value, ast.Constant(node.attr)], keywords=[]
            )
            if self.repeats and isinstance(value, ast.Name) and node.attr not in _NOT_INLINED:
                new_node = self.inline_guard(value, node, new_node, "_plain_attr_")
            self.locate(new_node, node)
            return new_node
        node.value = self.guard_write(value)
        return node

    def visit_Call(self, node: ast.Call) -> VisitResult:
        """RestrictedPython's call rules; a call of an inlined attribute (``out.append(x)``)
        becomes ``out.append(x) if <plain> else _getattr_(out, "append")(x)``, so the fast
        branch keeps the interpreter's method-call path. Only one branch runs, so the
        arguments are still evaluated exactly once."""
        result = super().visit_Call(node)
        if not isinstance(result, ast.Call):  # pragma: no cover - RestrictedPython returns it
            return result
        func = result.func
        if (
            isinstance(func, ast.IfExp)
            and isinstance(func.body, ast.Attribute)
            and isinstance(func.orelse, ast.Call)
            and isinstance(func.orelse.func, ast.Name)
            and func.orelse.func.id == "_getattr_"  # user code cannot name it: ours
        ):
            fast = ast.Call(func=func.body, args=result.args, keywords=result.keywords)
            guarded = ast.Call(func=func.orelse, args=result.args, keywords=result.keywords)
            new_node = ast.IfExp(test=func.test, body=fast, orelse=guarded)
            self.locate(new_node, result)
            return new_node
        return result

    def guard_write(self, value: ast.expr) -> ast.expr:
        """The container of an attribute or item store/delete, through ``_write_``."""
        new_value: ast.expr = ast.Call(func=_name("_write_"), args=[value], keywords=[])
        if self.repeats and isinstance(value, ast.Name):
            new_value = self.inline_guard(value, value, new_value, "_plain_write_")
        self.locate(new_value, value)
        return new_value

    def visit_Subscript(self, node: ast.Subscript) -> VisitResult:
        """``a[k]`` -> ``_getitem_(a, k)``; ``a[k] = c`` -> ``_write_(a)[k] = c``."""
        node = self.node_contents_visit(node)
        value = node.value
        if isinstance(node.ctx, ast.Load):
            new_node: ast.expr = ast.Call(
                func=_name("_getitem_"), args=[value, node.slice], keywords=[]
            )
            if self.repeats and isinstance(value, ast.Name):
                new_node = self.inline_guard(value, node, new_node, "_plain_item_")
            self.locate(new_node, node)
            return new_node
        node.value = self.guard_write(value)
        return node

    def guard_iter(self, node: ast.For | ast.comprehension) -> VisitResult:
        """``for x in it`` -> ``for x in _getiter_(it)`` (unpacking targets guarded too)."""
        node = self.node_contents_visit(node)
        new_iter: ast.expr
        if isinstance(node.target, ast.Tuple):
            spec = self.gen_unpack_spec(node.target)
            new_iter = ast.Call(
                func=_name("_iter_unpack_sequence_"),
                args=[node.iter, spec, _name("_getiter_")],
                keywords=[],
            )
        else:
            new_iter = ast.Call(func=_name("_getiter_"), args=[node.iter], keywords=[])
        self.locate(new_iter, node.iter)
        node.iter = new_iter
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> VisitResult:
        """``x += v`` stays as it is (the name is checked); items and attributes go through
        ``_inplaceitem_``/``_inplaceattr_`` (read guard, operator, write guard)."""
        target = node.target
        if isinstance(target, ast.Name):
            return self.node_contents_visit(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        call: ast.Call
        if isinstance(target, ast.Attribute):
            self.check_attribute_name(node, target.attr)
            container = self.visit(target.value)
            call = ast.Call(
                func=_name("_inplaceattr_"),
                args=[container, ast.Constant(target.attr), op, self.visit(node.value)],
                keywords=[],
            )
        elif isinstance(target, ast.Subscript):
            container = self.visit(target.value)
            key = self.visit(target.slice)
            call = ast.Call(
                func=_name("_inplaceitem_"),
                args=[container, key, op, self.visit(node.value)],
                keywords=[],
            )
        else:  # pragma: no cover - the grammar allows nothing else
            self.not_allowed(node)
            return node
        new_node = ast.Expr(value=call)
        self.locate(new_node, node)
        return new_node

    def visit_repeated(self, node: ast.AST, visit: Callable[[Any], VisitResult]) -> VisitResult:
        self.repeats += 1
        try:
            return visit(node)
        finally:
            self.repeats -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> VisitResult:
        return self.visit_repeated(node, super().visit_FunctionDef)

    def visit_Lambda(self, node: ast.Lambda) -> VisitResult:
        return self.visit_repeated(node, super().visit_Lambda)

    def visit_For(self, node: ast.For) -> VisitResult:
        return self.visit_repeated(node, super().visit_For)

    def visit_While(self, node: ast.While) -> VisitResult:
        return self.visit_repeated(node, super().visit_While)

    def visit_ListComp(self, node: ast.ListComp) -> VisitResult:
        return self.visit_repeated(node, super().visit_ListComp)

    def visit_SetComp(self, node: ast.SetComp) -> VisitResult:
        return self.visit_repeated(node, super().visit_SetComp)

    def visit_DictComp(self, node: ast.DictComp) -> VisitResult:
        return self.visit_repeated(node, super().visit_DictComp)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> VisitResult:
        return self.visit_repeated(node, super().visit_GeneratorExp)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> VisitResult:
        """``x: T = v`` -> ``x = v``; a bare ``x: T`` does nothing. Annotations are dropped."""
        if node.value is None:
            new_node: ast.stmt = ast.Pass()
            self.locate(new_node, node)
            return new_node
        assign = ast.Assign(targets=[node.target], value=node.value)
        self.locate(assign, node)
        result: VisitResult = self.visit(assign)
        return result


#: Nodes RestrictedPython allows unconditionally that have no child nodes: the fast traversal
#: does not visit them (their ``visit_`` methods would only visit their no children).
LEAF_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Load, ast.Store, ast.Del, ast.Constant, ast.Pass, ast.Break, ast.Continue,
        ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift,
        ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv, ast.And, ast.Or,
        ast.Invert, ast.Not, ast.UAdd, ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
        ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
    }
)  # fmt: skip

_AST = ast.AST
#: Leaves without location attributes (contexts and operators): nothing to fill in them.
_UNLOCATED_LEAVES = frozenset(t for t in LEAF_NODES if not t._attributes)


def _fill_locations(node: ast.AST, loc: tuple[int, int, int | None, int | None]) -> None:
    """Give unlocated descendants of ``node`` the location ``loc``; located ones are complete
    subtrees already, so the walk stops there (``ast.fix_missing_locations`` walks them all)."""
    for field in node._fields:
        value = getattr(node, field, None)
        if type(value) is list:
            children: Iterable[Any] = value
        elif isinstance(value, _AST):
            children = (value,)
        else:
            continue
        for child in children:
            kind = type(child)
            if kind in _UNLOCATED_LEAVES or not isinstance(child, _AST):
                continue
            if "lineno" in child._attributes:
                if hasattr(child, "lineno"):
                    continue
                located: Any = child
                located.lineno, located.col_offset, located.end_lineno, located.end_col_offset = loc
                if kind is ast.Name or kind is ast.Constant:
                    continue
            _fill_locations(child, loc)


class FastAgentPolicy(AgentPolicy):
    """:class:`AgentPolicy` with a faster traversal: cached dispatch, no visits of childless
    allowed leaves, and location fixing that stops at already-located subtrees.

    The rules are the inherited ``visit_*`` methods, unchanged; a node type without one is
    refused by ``generic_visit`` exactly as before.
    """

    def visit(self, node: ast.AST) -> VisitResult:
        method = _DISPATCH.get(type(node))
        if method is None:
            return super().visit(node)  # type: ignore[no-any-return]
        return method(self, node)  # type: ignore[no-any-return]

    def node_contents_visit(self, node: Any) -> Any:
        leaves = LEAF_NODES
        for field in node._fields:
            try:
                value = getattr(node, field)
            except AttributeError:
                continue
            if type(value) is list:
                rebuilt: list[Any] | None = None
                for index, item in enumerate(value):
                    if not isinstance(item, _AST) or type(item) in leaves:
                        if rebuilt is not None:
                            rebuilt.append(item)
                        continue
                    result = self.visit(item)
                    if result is item and rebuilt is None:
                        continue
                    if rebuilt is None:
                        rebuilt = value[:index]
                    if result is None:
                        continue
                    if isinstance(result, _AST):
                        rebuilt.append(result)
                    else:
                        rebuilt.extend(result)
                if rebuilt is not None:
                    value[:] = rebuilt
            elif isinstance(value, _AST) and type(value) not in leaves:
                result = self.visit(value)
                if result is None:
                    delattr(node, field)
                elif result is not value:
                    setattr(node, field, result)
        return node

    def locate(self, new_node: ast.AST, old_node: ast.AST) -> None:
        loc = (
            old_node.lineno,  # type: ignore[attr-defined]
            old_node.col_offset,  # type: ignore[attr-defined]
            old_node.end_lineno,  # type: ignore[attr-defined]
            old_node.end_col_offset,  # type: ignore[attr-defined]
        )
        new_node.lineno, new_node.col_offset, new_node.end_lineno, new_node.end_col_offset = (  # type: ignore[attr-defined]
            loc
        )
        _fill_locations(new_node, loc)

    def visit_Name(self, node: ast.Name) -> VisitResult:
        if type(node.ctx) is ast.Load:
            if node.id == "print" or node.id == "printed":
                return super().visit_Name(node)
            self.used_names[node.id] = True
        self.check_name(node, node.id)
        return node


def _ast_classes() -> list[type[ast.AST]]:
    found: list[type[ast.AST]] = []
    pending: list[type[ast.AST]] = [ast.AST]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


#: node type -> the ``visit_`` method ``NodeVisitor.visit`` would pick (or ``generic_visit``).
_DISPATCH: Mapping[type[ast.AST], Callable[..., Any]] = MappingProxyType(
    {
        cls: getattr(FastAgentPolicy, f"visit_{cls.__name__}", FastAgentPolicy.generic_visit)
        for cls in _ast_classes()
    }
)


@dataclass(frozen=True, slots=True)
class CompileRefusal:
    """Why source did not compile: restricted syntax (``rejected``) or a Python syntax error."""

    status: str
    type: str
    message: str
    line: int | None
    rule: str | None


def compile_ai_code(source: str) -> CodeType | CompileRefusal:
    """Parse, check and transform ``source``; a code object or the reason it was refused.

    The cyclic garbage collector is paused meanwhile (and restored as it was): the thousands of
    short-lived AST objects would otherwise trigger collections that cost a third of the time.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _compile(source)
    finally:
        if paused:
            gc.enable()


def _compile(source: str) -> CodeType | CompileRefusal:
    try:
        tree = ast.parse(source, AI_FILENAME, "exec")
    except SyntaxError as exc:
        kind = type(exc).__name__
        return CompileRefusal("error", kind, str(exc.msg), exc.lineno, None)
    except (ValueError, MemoryError, RecursionError) as exc:
        return CompileRefusal("error", "SyntaxError", f"cannot parse the code: {exc}", None, None)
    errors: list[str] = []
    policy = FastAgentPolicy(errors, [], {})
    try:
        policy.visit(tree)
    except RecursionError:
        return CompileRefusal(
            "rejected", "SecurityError", "the code is nested too deeply", None, "syntax"
        )
    if errors:
        message = "restricted syntax refused:\n" + "\n".join(errors[:10])
        if len(errors) > 10:
            message += f"\n... and {len(errors) - 10} more"
        return CompileRefusal(
            "rejected", "SecurityError", message, policy.first_error_line, "syntax"
        )
    try:
        return compile(tree, AI_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError) as exc:  # e.g. 'return' outside function
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        return CompileRefusal("error", "SyntaxError", str(msg), line, None)


class CompileCache:
    """A bounded LRU of compiled code keyed by the SHA-256 of the source.

    Code objects (and refusals) are immutable, so sharing them between runs is safe. Thread-safe.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, CodeType | CompileRefusal] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, source: str) -> CodeType | CompileRefusal:
        """The compiled form of ``source``, compiling it on a miss."""
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        compiled = compile_ai_code(source)
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
