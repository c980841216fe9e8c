"""Notebook display: a snippet that ends in a bare expression shows that expression's value.

As Jupyter shows ``Out[n]``: when the code never binds ``result`` and its last statement is an
expression, :func:`display_last_expression` rewrites that statement to ``result = <expr>``.
``result = ...`` keeps working exactly as before: any binding of the name ``result`` anywhere
in the code (assignment, ``for``, ``with ... as``, ``import ... as``, ``except ... as``,
``def``/``class``, ``global``, walrus, ``del``, a pattern) leaves the code as written.

It is a pure AST step that runs *before* the policy check, so the rewritten code is checked
like any other (it adds nothing the code could not have written itself). Both executors call
it: the restricted compile path (``compiler.py``) and the python-mode executor.
"""

from __future__ import annotations

import ast

__all__ = ["RESULT_NAME", "display_last_expression", "is_displayed"]

#: The name whose value a run returns.
RESULT_NAME = "result"


def display_last_expression(tree: ast.Module) -> ast.Module:
    """``tree`` with a final bare expression assigned to ``result`` (in place), unless the
    code binds ``result`` itself or does not end in an expression."""
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or _binds_result(tree):
        return tree
    last = tree.body[-1]
    assign = ast.Assign(targets=[ast.Name(id=RESULT_NAME, ctx=ast.Store())], value=last.value)
    tree.body[-1] = ast.fix_missing_locations(ast.copy_location(assign, last))
    return tree


def is_displayed(code: str) -> bool:
    """Whether ``code``'s result is a displayed expression (it binds no ``result`` and ends in
    a bare expression). Executors ask only when that value is not JSON data: a displayed
    value that cannot be returned is shown as nothing (a notebook would print its repr), never
    an error, since the code did not ask for it to be the result."""
    try:
        tree = ast.parse(code, "<ai-code>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not _binds_result(tree)


def _binds_result(tree: ast.Module) -> bool:
    """Whether any statement or expression in ``tree`` binds (or declares) ``result``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == RESULT_NAME:
            if isinstance(node.ctx, ast.Store | ast.Del):
                return True
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == RESULT_NAME:
                return True
        elif isinstance(node, ast.Global | ast.Nonlocal):
            if RESULT_NAME in node.names:
                return True
        elif isinstance(node, ast.alias):
            if (node.asname or node.name.split(".")[0]) == RESULT_NAME:
                return True
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            if node.name == RESULT_NAME:
                return True
        elif isinstance(node, ast.MatchMapping) and node.rest == RESULT_NAME:
            return True
    return False
