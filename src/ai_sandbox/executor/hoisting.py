"""Which inline type tests may be hoisted out of a loop: a small, conservative scope analysis.

The compiler wraps ``a[k]``, ``a.b`` and stores on a plain name in ``fast if type(a) in <kinds>
else guarded``. Inside a loop of a *function*, the test for a local name can be computed once,
just before the loop, when

* the name is definitely bound when the loop starts (a parameter, or bound by a statement that
  always runs before the loop and not unbound since: ``del`` and ``except ... as`` unbind), so
  evaluating it early raises nothing the original code would not;
* nothing inside the loop binds or unbinds it (any assignment target, ``for``/``with``/``except``
  target, walrus, import, ``def``/``class`` name or ``del``, counted anywhere inside the loop,
  nested scopes included), and the function does not declare it ``global``.

Then the name refers to the same object throughout the loop, and the exact type of an object of
a builtin type never changes (``__class__`` cannot be assigned on them), so the hoisted test has
the value the inline test would have had on every iteration: the guards' semantics are unchanged.
Module-level and class-level loops are never hoisted (their names are globals or class
attributes, which called code can rebind).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["bound_in", "loop_entry_bindings"]

_Loop = ast.For | ast.While
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _target_names(target: ast.expr) -> set[str]:
    """Names a target binds (not the names it loads, like ``a`` in ``a[0] = v``)."""
    return {
        n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _import_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    return {(a.asname or a.name).partition(".")[0] for a in node.names}


def _named(node: ast.AST) -> str | None:
    """The name a ``def``/``class``/``except ... as``/match capture binds, if any."""
    if isinstance(node, _SCOPES):
        return node.name
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return node.name
    if isinstance(node, ast.MatchMapping):
        return node.rest
    return None


def bound_in(node: ast.AST) -> tuple[frozenset[str], frozenset[str]]:
    """The names something anywhere inside ``node`` binds, unbinds or declares, and the subset
    it may unbind (``del``, ``except ... as``)."""
    names: set[str] = set()
    unbound: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
            names.add(child.id)
            if isinstance(child.ctx, ast.Del):
                unbound.add(child.id)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            names |= _import_names(child)
        elif isinstance(child, ast.Global | ast.Nonlocal):
            names.update(child.names)
        elif (name := _named(child)) is not None:
            names.add(name)
            if isinstance(child, ast.ExceptHandler):
                unbound.add(name)
    return frozenset(names), frozenset(unbound)


def _unbound_in(node: ast.AST) -> frozenset[str]:
    """Names that may be unbound by something inside ``node`` (``del``, ``except ... as``)."""
    return bound_in(node)[1]


def _parameters(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _statements(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, inside compound statements too, not inside nested scopes."""
    for node in body:
        yield node
        if isinstance(node, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, field, ()))
        for inner in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            yield from _statements(inner.body)


def loop_entry_bindings(function: ast.FunctionDef) -> Mapping[ast.AST, frozenset[str]]:
    """For each loop of ``function`` (not of nested scopes): the function's local names that
    are definitely bound whenever the loop starts and that nothing inside the loop rebinds.

    Only the function's own statements add names (so every name is one of its locals), less
    the names it declares ``global`` or ``nonlocal``.
    """
    statements = list(_statements(function.body))
    if not any(isinstance(node, _Loop) for node in statements):
        return {}
    declared = {
        name
        for node in statements
        if isinstance(node, ast.Global | ast.Nonlocal)
        for name in node.names
    }
    entries: dict[ast.AST, frozenset[str]] = {}

    def block(statements: Iterable[ast.stmt], bound: set[str]) -> set[str]:
        for statement in statements:
            bound = step(statement, bound)
        return bound

    def step(node: ast.stmt, bound: set[str]) -> set[str]:
        if isinstance(node, _Loop):
            rebound, unbound = bound_in(node)
            entries[node] = frozenset(bound - declared - rebound)
            inside = bound - unbound
            block(node.body, set(inside))
            block(node.orelse, set(inside))
            return inside
        if isinstance(node, ast.Assign):
            return bound.union(*(_target_names(t) for t in node.targets))
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            return bound | {node.target.id}  # raised already if it was unbound
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            return bound | _target_names(node.target)
        if isinstance(node, ast.Import | ast.ImportFrom):
            return bound | _import_names(node)
        if isinstance(node, _SCOPES):
            return bound | {node.name}
        if isinstance(node, ast.Delete):
            return bound - _unbound_in(node)
        if isinstance(node, ast.If):
            return block(node.body, set(bound)) & block(node.orelse, set(bound))
        if isinstance(node, ast.With):
            with_targets = {
                name
                for item in node.items
                if item.optional_vars is not None
                for name in _target_names(item.optional_vars)
            }
            block(node.body, bound | with_targets)
            return bound - _unbound_in(node)  # a context manager may swallow an exception
        if isinstance(node, ast.Try):
            for body in (node.body, *(h.body for h in node.handlers), node.orelse):
                block(body, bound - _unbound_in(node))
            block(node.finalbody, bound - _unbound_in(node))
            return bound - _unbound_in(node)
        if hasattr(node, "body") or hasattr(node, "cases"):  # any other compound statement
            return bound - _unbound_in(node)
        return bound  # a simple statement binds nothing new; only `del` unbinds

    block(function.body, _parameters(function.args))
    return entries
