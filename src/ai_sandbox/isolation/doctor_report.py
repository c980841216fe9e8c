"""Doctor's static sections: the worker's Landlock read rules and who the processes run as.

The read rules are computed by a fresh interpreter started exactly like the zygote
(``python -I``, empty environment, the sandbox root as working directory), since the host's
own ``sys.path`` (``PYTHONPATH``, the user site) is not what a worker gets.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - starts our own interpreter, never a shell
import sys
from pathlib import Path
from typing import TextIO

from ai_sandbox.isolation.read_rules import ReadRule, ReadRulePlan, RefusedPath

__all__ = ["identity_lines", "path_layer_lines", "worker_read_rules", "write_read_rules"]

_TIMEOUT_S = 30.0
_PROGRAM = (
    "import importlib.util as u, json, sys; "
    "sys.modules['ai_sandbox'] = u.module_from_spec(u.find_spec('ai_sandbox')); "
    "from ai_sandbox.isolation.read_rules import plan_read_rules; "
    "p = plan_read_rules(); "
    "print(json.dumps({'rules': [[r.path, r.access, r.source] for r in p.rules], "
    "'refused': [[r.path, r.source, r.why] for r in p.refused]}))"
)


def worker_read_rules(root: Path) -> ReadRulePlan | str:
    """The read rules a zygote for ``root`` computes, or why they could not be found."""
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603 - our interpreter, no shell
            [sys.executable, "-I", "-c", _PROGRAM],
            env={},
            cwd=root,
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not start the interpreter: {exc}"
    if done.returncode != 0:
        return f"the interpreter failed (exit {done.returncode})"
    try:
        decoded = json.loads(done.stdout)
        rules = tuple(
            ReadRule(str(p), "read" if a == "read" else "read-files", str(s))
            for p, a, s in decoded["rules"]
        )
        refused = tuple(RefusedPath(str(p), str(s), str(w)) for p, s, w in decoded["refused"])
    except (ValueError, KeyError, TypeError):
        return "the interpreter sent an unreadable answer"
    return ReadRulePlan(rules, refused)


def write_read_rules(out: TextIO, plan: ReadRulePlan | str) -> None:
    """Print every read rule (and every refused candidate) of a worker."""
    out.write("\nLandlock read rules (everything a worker may read; nothing is writable):\n")
    if isinstance(plan, str):
        out.write(f"  unknown: {plan}\n")
        return
    for rule in plan.rules:
        access = "read+list" if rule.access == "read" else "read-only"
        out.write(f"  {access:<10} {rule.path}  ({rule.source})\n")
    for refused in plan.refused:
        out.write(f"  REFUSED    {refused.path}  ({refused.source}: {refused.why})\n")


def identity_lines(layers: frozenset[str]) -> list[str]:
    """Who the host runs as and what that means for workers (root or not, user namespace)."""
    uid = os.geteuid()
    if uid == 0:
        who = "root: workers drop to an unprivileged uid (nobody) with no capabilities"
    else:
        who = (
            f"uid {uid} (not root): workers keep this uid, so the files it owns and its other "
            "processes are protected by Landlock (files, signals) and seccomp (ptrace, chmod), "
            "not by the uid"
        )
        if "network_namespace" in layers:
            who += "; the network namespace sits in a user namespace mapping only this uid"
    lines = [f"Host user: {who}"]
    if "network_namespace" not in layers:
        lines.append(
            "Network: no namespace; closed by seccomp (no socket()) and Landlock (no TCP)"
            if {"seccomp", "landlock_net"} <= layers
            else "Network: NOT isolated"
        )
    return lines


def path_layer_lines(root: Path) -> list[str]:
    """How the host's path layer tells file systems and mounts apart on ``root``'s machine."""
    from ai_sandbox.pathlayer.mounts import support

    try:
        found = support(str(root))
    except OSError as exc:
        return [f"Path layer: cannot probe {str(root)!r} ({exc.strerror}): every file is refused"]
    pseudo = (
        "pseudo file systems (proc, sysfs, ...) refused by fstatfs"
        if found.fstatfs
        else "fstatfs unusable: every file is refused (fail closed)"
    )
    mounts = (
        "other mounts told apart by mount id (bind mounts too)"
        if found.mount_ids
        else "other mounts told apart by device only (a bind mount of the root's own file system "
        "is not seen)"
    )
    return [f"Path layer: {pseudo}; {mounts}"]
