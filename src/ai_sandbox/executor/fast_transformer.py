"""The same policy, traversed faster: what ``compile_ai_code`` uses.

:class:`FastAgentPolicy` inherits every rule (every ``visit_*`` method) of
:class:`~ai_sandbox.executor.transformer.AgentPolicy` and changes only the machinery: a cached
type -> method dispatch, no visits of childless nodes RestrictedPython allows unconditionally,
and location fixing that stops at already-located subtrees. A test checks on a corpus that both
produce the same tree (with locations), errors and warnings.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ai_sandbox.executor.transformer import AgentPolicy, VisitResult

__all__ = ["LEAF_NODES", "FastAgentPolicy"]

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
