"""Classic BPF for seccomp: the few instructions the worker filter needs, and rule shapes.

Every rule starts by comparing the system-call number (already in the accumulator); when it
does not match, the rule is skipped whole and the accumulator still holds the number, so rules
chain. A rule that matches always ends in a return. Rules that read an argument load its low
32 bits (``struct seccomp_data`` is little endian on every architecture we build for).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Final

__all__ = [
    "ALLOW",
    "ENOSYS",
    "EPERM",
    "KILL_PROCESS",
    "Insn",
    "allow_values",
    "deny",
    "deny_flags",
    "deny_values",
    "jump",
    "load",
    "load_arg",
    "ret",
]

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS: Final = 0x00 | 0x00 | 0x20
JEQ: Final = 0x05 | 0x10
JGE: Final = 0x05 | 0x30
JSET: Final = 0x05 | 0x40
_RET: Final = 0x06
KILL_PROCESS: Final = 0x80000000
_ERRNO: Final = 0x00050000
ALLOW: Final = 0x7FFF0000
EPERM: Final = _ERRNO | errno.EPERM
ENOSYS: Final = _ERRNO | errno.ENOSYS
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
OFFSET_NR: Final = 0
OFFSET_ARCH: Final = 4
_OFFSET_ARGS: Final = 16
_MAX_JUMP: Final = 255

Insn = tuple[int, int, int, int]


def load(offset: int) -> Insn:
    """Load the 32-bit word at ``offset`` of ``struct seccomp_data`` into the accumulator."""
    return (_LD_W_ABS, 0, 0, offset)


def load_arg(index: int) -> Insn:
    """Load the low 32 bits of system-call argument ``index``."""
    return load(_OFFSET_ARGS + 8 * index)


def jump(op: int, value: int, if_true: int, if_false: int) -> Insn:
    """A conditional jump; the targets count instructions to skip (at most 255)."""
    if not (0 <= if_true <= _MAX_JUMP and 0 <= if_false <= _MAX_JUMP):
        raise ValueError("a BPF jump reaches at most 255 instructions")
    return (op, if_true, if_false, value)


def ret(value: int) -> Insn:
    """Return ``value`` (a ``SECCOMP_RET_*`` action) for this call."""
    return (_RET, 0, 0, value)


def deny(nr: int, action: int) -> list[Insn]:
    """Return ``action`` for call ``nr`` whatever its arguments."""
    return [jump(JEQ, nr, 0, 1), ret(action)]


def deny_values(nr: int, arg: int, values: Iterable[int]) -> list[Insn]:
    """Refuse call ``nr`` (EPERM) when argument ``arg`` is one of ``values``; allow it otherwise."""
    listed = list(dict.fromkeys(values))
    count = len(listed)
    body = [load_arg(arg)]
    body += [jump(JEQ, value, count - index, 0) for index, value in enumerate(listed)]
    body += [ret(ALLOW), ret(EPERM)]
    return [jump(JEQ, nr, 0, len(body)), *body]


def deny_flags(nr: int, arg: int, mask: int) -> list[Insn]:
    """Refuse call ``nr`` (EPERM) when argument ``arg`` has any bit of ``mask`` set."""
    body = [load_arg(arg), jump(JSET, mask, 1, 0), ret(ALLOW), ret(EPERM)]
    return [jump(JEQ, nr, 0, len(body)), *body]


def allow_values(
    nr: int, arg: int, values: Iterable[int], *, only_with: dict[int, tuple[int, int]]
) -> list[Insn]:
    """Allow call ``nr`` only when argument ``arg`` is one of ``values``, or a key of
    ``only_with`` whose ``(argument, value)`` also matches; refuse (EPERM) everything else."""
    listed = [value for value in dict.fromkeys(values) if value not in only_with]
    conditional = list(only_with.items())
    # Layout: load; one JEQ per listed value (to ALLOW); one JEQ per conditional value (to its
    # check); EPERM; the checks (load + JEQ, 2 each); ALLOW; EPERM.
    checks = 2 * len(conditional)
    body = [load_arg(arg)]
    for index, value in enumerate(listed):
        to_allow = (len(listed) - index - 1) + len(conditional) + 1 + checks
        body.append(jump(JEQ, value, to_allow, 0))
    for index, (value, _) in enumerate(conditional):
        to_check = (len(conditional) - index - 1) + 1 + 2 * index
        body.append(jump(JEQ, value, to_check, 0))
    body.append(ret(EPERM))
    for index, (_, (check_arg, check_value)) in enumerate(conditional):
        remaining = checks - 2 * index - 2  # check instructions after this one
        body += [load_arg(check_arg), jump(JEQ, check_value, remaining, remaining + 1)]
    body += [ret(ALLOW), ret(EPERM)]
    return [jump(JEQ, nr, 0, len(body)), *body]
