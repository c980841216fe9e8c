"""The compile-time policy: RestrictedPython's transformer with our reviewed changes.

:class:`AgentPolicy` is RestrictedPython's transformer with these reviewed changes, each mapped
onto the run-time guards so nothing escapes them:

* ``a[k] += v`` becomes ``_inplaceitem_(a, k, "+=", v)`` (``_getitem_``, the operator, then
  ``_write_``) and ``obj.attr += v`` becomes ``_inplaceattr_(obj, "attr", "+=", v)`` (the name
  is checked here exactly like any attribute);
* ``x += v`` on a plain name is left to the interpreter: ``_inplacevar_`` protected nothing under
  our guards (every object the code can name is one it may already change through its methods;
  host-owned containers are never handed out), and it cost a call per iteration;
* annotations are kept (``x: int = 1``, ``def f(x: List[int])``): they are ordinary guarded
  expressions, so ``@dataclass`` sees its fields and ``typing.get_type_hints`` works;
* names starting with ``_`` are the code's own private names unless the sandbox reserves them
  (``names.is_private_name``); special methods of ``names.SPECIAL_METHODS`` may be defined, the
  hooks of ``names.REFUSED_HOOKS`` are refused with a hint; special attributes other than
  ``names.READABLE_DUNDERS`` cannot be read, and none can be assigned; ``self.__x`` inside a class
  is mangled to ``self._Class__x`` as the interpreter would have done;
* ``super()`` in a method becomes ``super(__class__, <first argument>)`` (the sandbox's ``super``
  is a guarded function, which cannot find the caller's frame as the builtin does);
* ``nonlocal`` is allowed (it only rebinds a variable of an enclosing function);
* ``match`` is allowed: the names in value and class patterns are checked like attribute names
  (public only: the interpreter reads them without our guards), and every case gets a guard
  ``_match_ok_(classes, captured values)`` that runs before the case's own guard: a class
  pattern with sub-patterns must name a class of the code's own (or a builtin type matched by
  itself), and every captured value goes through the same check as any attribute read;
* when the object of ``a.b``, ``a[k]`` or a store is a plain *name* inside code that can run
  repeatedly (a function, lambda, loop or comprehension), the guard call is wrapped in an
  inline exact-type test that skips it only for the builtin types where the guard is the
  identity (:meth:`AgentPolicy.inline_guard`); inside a function's loop, the test for a local
  name that the loop never rebinds is computed once before the loop (``hoisting.py`` says when
  that is exact);
* attribute names that walk frames, code objects or the class hierarchy are refused, and every
  refusal carries a hint saying what to write instead.

Everything else is RestrictedPython's own policy, including its rule that any AST node without a
``visit_`` method is refused, so new syntax fails closed. ``fast_transformer.FastAgentPolicy``
applies the same rules with a cheaper traversal.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from RestrictedPython.transformer import (
    FORBIDDEN_FUNC_NAMES,
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

from ai_sandbox.executor.hoisting import loop_entry_bindings
from ai_sandbox.executor.names import (
    CLASS_BODY_DUNDERS,
    READABLE_DUNDERS,
    SPECIAL_METHODS,
    is_dunder,
    is_private_name,
    name_hint,
)

#: What a ``visit_*`` method may return (a node, nodes replacing it, or None to drop it).
VisitResult = ast.AST | Iterable[ast.AST] | None

__all__ = ["DENIED_ATTRIBUTES", "AgentPolicy", "VisitResult"]

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


def _hint(info: str) -> str:
    """Append to a RestrictedPython refusal what the model should write instead."""
    if not info.endswith("."):
        info += "."
    if "Exec calls" in info or "Eval calls" in info:
        return f"{info} Write the code directly instead of building it as a string."
    if "is a restricted name" in info:
        return f"{info} Frames, tracebacks and code objects cannot be inspected in the sandbox."
    if info.startswith(("AsyncFunctionDef", "Await", "AsyncFor", "AsyncWith")):
        return f"{info} Write synchronous code; async is not available in the sandbox."
    if info.startswith("TryStar"):
        return f"{info} Use plain try/except instead of except*."
    if '"*" imports' in info:
        return f"{info} Import the names you need explicitly."
    return info


#: Literal attribute names that never take the inline fast path (``str.format`` is guarded).
_NOT_INLINED = frozenset({"format", "format_map"})


def _name(identifier: str) -> ast.Name:
    return ast.Name(identifier, ast.Load())


class _HoistFrame:
    """One loop being compiled: the names whose type tests may move before it, and the flags
    (``(name, kinds) -> flag variable``) the loop's body used."""

    __slots__ = ("flags", "hoistable")

    def __init__(self, hoistable: frozenset[str]) -> None:
        self.hoistable = hoistable
        self.flags: dict[tuple[str, str], str] = {}


def _type_test(name: str, kinds: str) -> ast.Compare:
    """``_type_(name) in <kinds>``."""
    return ast.Compare(
        left=ast.Call(func=_name("_type_"), args=[_name(name)], keywords=[]),
        ops=[ast.In()],
        comparators=[_name(kinds)],
    )


class AgentPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the reviewed widenings described in the module docstring.

    This is the reference implementation, built on RestrictedPython's own traversal;
    ``fast_transformer.FastAgentPolicy`` produces the same tree faster and is what
    ``compile_ai_code`` uses (a test compares the two on a corpus).
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
        #: Loops of the current function: the names whose type tests may move before each.
        self.loop_entries: Mapping[ast.AST, frozenset[str]] = {}
        #: The loops of the current scope enclosing the current node, outermost first.
        self.loops: list[_HoistFrame] = []
        #: Enclosing class names (innermost last), for private-name mangling.
        self.classes: list[str] = []
        #: Enclosing functions (innermost last): the first parameter of a method, else None.
        self.methods: list[str | None] = []
        #: Whether the next function definition is a direct child of a class body.
        self.in_class_body = False

    def error(self, node: ast.AST, info: str) -> None:
        lineno = getattr(node, "lineno", None)
        if self.first_error_line is None:
            self.first_error_line = lineno
        self.errors.append(f"Line {lineno}: {_hint(info)}")

    def locate(self, new_node: ast.AST, old_node: ast.AST) -> None:
        """Give ``new_node`` (and its new, unlocated children) the location of ``old_node``."""
        copy_locations(new_node, old_node)  # type: ignore[arg-type]

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        """Variable, function, class, argument and import names: the code's own private names
        (``_total``) and, for functions and class-body assignments, the special methods it may
        define; never a name the sandbox reserves."""
        if name is None:
            return
        if name.startswith("_") and name != "_" and not is_private_name(name):
            if not self.dunder_name_allowed(node, name):
                self.error(
                    node,
                    f'"{name}" is an invalid variable name because it starts with "_". '
                    f"Instead: {name_hint(name)}",
                )
            return
        if name.endswith("__roles__"):
            self.error(
                node, f'"{name}" is an invalid variable name because it ends with "__roles__".'
            )
        elif name in FORBIDDEN_FUNC_NAMES:
            self.error(node, f'"{name}" is a reserved name.')

    def dunder_name_allowed(self, node: Any, name: str) -> bool:
        """``def __str__``, ``__hash__ = None``, ``__slots__ = (...)`` and reading ``__name__``."""
        if not is_dunder(name):
            return False
        if isinstance(node, ast.FunctionDef):
            return name in SPECIAL_METHODS
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and name == "__name__":
                return True
            return name in SPECIAL_METHODS or name in CLASS_BODY_DUNDERS
        return False

    def mangle(self, name: str) -> str:
        """``__x`` inside class ``C`` is ``_C__x``, as the interpreter mangles it (the guarded
        form passes the name as a string, which the interpreter would leave unmangled)."""
        if not self.classes or not name.startswith("__") or name.endswith("__"):
            return name
        owner = self.classes[-1].lstrip("_")
        return f"_{owner}{name}" if owner else name

    def check_attribute_name(self, node: ast.AST, name: str, ctx: ast.AST | None = None) -> None:
        """Attribute names: public ones, the code's private ones (served at run time only from
        its own objects), special attributes of ``names.READABLE_DUNDERS`` for reading; plus
        our denied names."""
        if name.startswith("_") and name != "_":
            if is_dunder(name) and name in READABLE_DUNDERS:
                if ctx is not None and not isinstance(ctx, ast.Load):
                    self.error(
                        node,
                        f'"{name}" cannot be assigned or deleted in the sandbox. Instead: keep '
                        "the value in an attribute with a plain name.",
                    )
            elif not is_private_name(name):
                self.error(
                    node,
                    f'"{name}" is an invalid attribute name because it starts with "_". '
                    f"Instead: {name_hint(name)}",
                )
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
        flag = self.hoisted_flag(container.id, kinds)
        test = _name(flag) if flag is not None else _type_test(container.id, kinds)
        return ast.IfExp(test=test, body=fast, orelse=guarded)

    def hoisted_flag(self, name: str, kinds: str) -> str | None:
        """The variable holding the type test of ``name`` computed before the outermost
        enclosing loop (of this scope) that may hoist it, or None."""
        for frame in self.loops:
            if name in frame.hoistable:
                return frame.flags.setdefault((name, kinds), f"_ai_{kinds.strip('_')}_{name}")
        return None

    def visit_loop(self, node: ast.For | ast.While, visit: Callable[[Any], VisitResult]) -> Any:
        """Visit a loop; then put the type tests its body hoisted in front of it."""
        entry = self.loop_entries.get(node)
        if entry is None:
            return self.visit_repeated(node, visit)
        frame = _HoistFrame(entry)
        self.loops.append(frame)
        try:
            result = self.visit_repeated(node, visit)
        finally:
            self.loops.pop()
        if not frame.flags or not isinstance(result, ast.AST):
            return result
        statements: list[ast.stmt] = []
        for (name, kinds), flag in frame.flags.items():
            assign = ast.Assign(
                targets=[ast.Name(flag, ast.Store())], value=_type_test(name, kinds)
            )
            self.locate(assign, node)
            statements.append(assign)
        return [*statements, result]

    def visit_scope(self, node: ast.AST, visit: Callable[[Any], VisitResult]) -> VisitResult:
        """Visit a new scope: the enclosing loops' flags are not its variables."""
        saved = self.loop_entries, self.loops
        if isinstance(node, ast.FunctionDef):
            self.loop_entries = loop_entry_bindings(node)
        elif isinstance(node, ast.ClassDef):
            self.loop_entries = {}
        self.loops = []
        try:
            return visit(node)
        finally:
            self.loop_entries, self.loops = saved

    def visit_Attribute(self, node: ast.Attribute) -> VisitResult:
        """``a.b`` -> ``_getattr_(a, "b")``; ``a.b = c`` -> ``_write_(a).b = c``."""
        self.check_attribute_name(node, node.attr, node.ctx)
        node.attr = self.mangle(node.attr)
        node = self.node_contents_visit(node)
        value = node.value
        if isinstance(node.ctx, ast.Load):
            new_node: ast.expr = ast.Call(
                func=_name("_getattr_"), args=[value, ast.Constant(node.attr)], keywords=[]
            )
            if (
                self.repeats
                and isinstance(value, ast.Name)
                and node.attr not in _NOT_INLINED
                and node.attr[0] != "_"
            ):
                new_node = self.inline_guard(value, node, new_node, "_plain_attr_")
            self.locate(new_node, node)
            return new_node
        if node.attr[0] == "_" and node.attr != "_":
            # a private name: ``_write_attr_`` also checks that no host class defines it
            write: ast.expr = ast.Call(
                func=_name("_write_attr_"), args=[value, ast.Constant(node.attr)], keywords=[]
            )
            self.locate(write, value)
            node.value = write
            return node
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
        if (
            isinstance(result.func, ast.Name)
            and result.func.id == "super"
            and not result.args
            and not result.keywords
            and self.methods
            and self.methods[-1] is not None
        ):
            # zero-argument super(): what the interpreter would find in the method's frame
            result.args = [_name("__class__"), _name(self.methods[-1])]
            self.locate(result, node)
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
            self.check_attribute_name(node, target.attr, ast.Store())
            container = self.visit(target.value)
            call = ast.Call(
                func=_name("_inplaceattr_"),
                args=[
                    container,
                    ast.Constant(self.mangle(target.attr)),
                    op,
                    self.visit(node.value),
                ],
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
        visit = super().visit_FunctionDef
        positional = [*node.args.posonlyargs, *node.args.args]
        first = positional[0].arg if self.in_class_body and positional else None
        self.methods.append(first)
        saved, self.in_class_body = self.in_class_body, False
        try:
            return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))
        finally:
            self.methods.pop()
            self.in_class_body = saved

    def visit_ClassDef(self, node: ast.ClassDef) -> VisitResult:
        self.classes.append(node.name)
        saved, self.in_class_body = self.in_class_body, True
        try:
            return self.visit_scope(node, super().visit_ClassDef)
        finally:
            self.classes.pop()
            self.in_class_body = saved

    def visit_Nonlocal(self, node: ast.Nonlocal) -> VisitResult:
        """``nonlocal x`` rebinds a variable of an enclosing function: allowed (names checked)."""
        for name in node.names:
            self.check_name(node, name)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> VisitResult:
        visit = super().visit_Lambda
        return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))

    def visit_For(self, node: ast.For) -> VisitResult:
        return self.visit_loop(node, super().visit_For)  # type: ignore[no-any-return]

    def visit_While(self, node: ast.While) -> VisitResult:
        return self.visit_loop(node, super().visit_While)  # type: ignore[no-any-return]

    def visit_ListComp(self, node: ast.ListComp) -> VisitResult:
        visit = super().visit_ListComp
        return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))

    def visit_SetComp(self, node: ast.SetComp) -> VisitResult:
        visit = super().visit_SetComp
        return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))

    def visit_DictComp(self, node: ast.DictComp) -> VisitResult:
        visit = super().visit_DictComp
        return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> VisitResult:
        visit = super().visit_GeneratorExp
        return self.visit_scope(node, lambda n: self.visit_repeated(n, visit))

    def visit_Match(self, node: ast.Match) -> VisitResult:
        """``match subject:``; the subject is an ordinary guarded expression."""
        node.subject = self.visit(node.subject)
        node.cases = [self.visit_match_case(case) for case in node.cases]
        return node

    def visit_match_case(self, node: ast.match_case) -> ast.match_case:
        classes: list[ast.expr] = []
        captured: list[str] = []
        self.check_pattern(node.pattern, classes, captured)
        check = ast.Call(
            func=_name("_match_ok_"),
            args=[
                ast.Tuple(elts=classes, ctx=ast.Load()),
                ast.Tuple(elts=[_name(name) for name in captured], ctx=ast.Load()),
            ],
            keywords=[],
        )
        guard = self.visit(node.guard) if node.guard is not None else None
        new_guard: ast.expr = (
            check if guard is None else ast.BoolOp(op=ast.And(), values=[check, guard])
        )
        self.locate(new_guard, node.pattern)
        node.guard = new_guard
        node.body = [
            result
            for statement in node.body
            for result in self.as_statements(self.visit(statement))
        ]
        return node

    @staticmethod
    def as_statements(result: VisitResult) -> list[Any]:
        if result is None:
            return []
        if isinstance(result, ast.AST):
            return [result]
        return list(result)

    def check_pattern_name(self, node: ast.AST, expr: ast.expr) -> None:
        """A value or class reference in a pattern: a dotted name of public names."""
        while isinstance(expr, ast.Attribute):
            if expr.attr.startswith("_") or expr.attr in DENIED_ATTRIBUTES:
                self.error(
                    node,
                    f'"{expr.attr}" cannot be used in a pattern: patterns read public '
                    "attributes only",
                )
            expr = expr.value
        if isinstance(expr, ast.Name):
            self.check_name(expr, expr.id)

    def check_pattern(
        self, pattern: ast.pattern, classes: list[ast.expr], captured: list[str]
    ) -> None:
        """Check a pattern's names and collect its class references (those with
        sub-patterns, as ``(class, positional count, keyword count)``) and captured names."""
        if isinstance(pattern, ast.MatchValue):
            if isinstance(pattern.value, ast.Attribute | ast.Name):
                self.check_pattern_name(pattern, pattern.value)
            elif not isinstance(pattern.value, ast.Constant | ast.UnaryOp | ast.BinOp):
                self.error(pattern, "only literals and dotted names can be matched")
        elif isinstance(pattern, ast.MatchSingleton):
            pass
        elif isinstance(pattern, ast.MatchSequence | ast.MatchOr):
            for sub in pattern.patterns:
                self.check_pattern(sub, classes, captured)
        elif isinstance(pattern, ast.MatchMapping):
            for key in pattern.keys:
                if isinstance(key, ast.Attribute | ast.Name):
                    self.check_pattern_name(pattern, key)
            for sub in pattern.patterns:
                self.check_pattern(sub, classes, captured)
            if pattern.rest is not None:
                self.check_name(pattern, pattern.rest)
                captured.append(pattern.rest)
        elif isinstance(pattern, ast.MatchClass):
            self.check_pattern_name(pattern, pattern.cls)
            for attr in pattern.kwd_attrs:
                if attr.startswith("_") or attr in DENIED_ATTRIBUTES or attr in _NOT_INLINED:
                    self.error(
                        pattern,
                        f'"{attr}" cannot be used in a class pattern: patterns read public '
                        "data attributes only",
                    )
            if pattern.patterns or pattern.kwd_patterns:
                reference = self.visit(copy.deepcopy(pattern.cls))
                classes.append(
                    ast.Tuple(
                        elts=[
                            reference,
                            ast.Constant(len(pattern.patterns)),
                            ast.Constant(len(pattern.kwd_patterns)),
                        ],
                        ctx=ast.Load(),
                    )
                )
            for sub in [*pattern.patterns, *pattern.kwd_patterns]:
                self.check_pattern(sub, classes, captured)
        elif isinstance(pattern, ast.MatchStar):
            if pattern.name is not None:
                self.check_name(pattern, pattern.name)
                captured.append(pattern.name)
        elif isinstance(pattern, ast.MatchAs):
            if pattern.pattern is not None:
                self.check_pattern(pattern.pattern, classes, captured)
            if pattern.name is not None:
                self.check_name(pattern, pattern.name)
                captured.append(pattern.name)
        else:  # pragma: no cover - every pattern node of the grammar is handled above
            self.error(pattern, f"{type(pattern).__name__} patterns are not allowed")

    def visit_AnnAssign(self, node: ast.AnnAssign) -> VisitResult:
        """``x: T = v`` is kept: the annotation is a guarded expression like any other (a class
        body's annotations are what ``@dataclass`` reads)."""
        result: VisitResult = self.node_contents_visit(node)
        return result
