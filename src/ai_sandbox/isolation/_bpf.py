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


# -- a dispatch on the system-call number as a binary search -----------------------------------

JA: Final = 0x05 | 0x00
#: What a call number dispatches to: a ``SECCOMP_RET_*`` action, or an argument rule's body
#: (instructions that start with the call's arguments to load and end in returns).
Target = int | tuple[Insn, ...]


def dispatch(targets: dict[int, Target], default: int) -> list[Insn]:
    """Instructions sending the call number in the accumulator to its target, ``default`` for
    numbers not listed: a binary search (about 2·log2(n) comparisons per call, where a linear
    list costs up to 2·n, both at run time and when the kernel pre-computes its per-number
    cache at install time). Far jumps use ``JA``, whose offset has 32 bits."""
    program: list[Insn] = []
    bodies: list[tuple[int, tuple[Insn, ...]]] = []  # (index of the JA to patch, body)
    _search(sorted(targets.items()), default, program, bodies)
    for index, body in bodies:
        program[index] = (JA, 0, 0, len(program) - index - 1)
        program.extend(body)
    return program


_LEAVES: Final = 3


def _search(
    entries: list[tuple[int, Target]],
    default: int,
    program: list[Insn],
    bodies: list[tuple[int, tuple[Insn, ...]]],
) -> None:
    if len(entries) <= _LEAVES:
        for nr, target in entries:
            program.append(jump(JEQ, nr, 0, 1))
            if isinstance(target, int):
                program.append(ret(target))
            else:
                bodies.append((len(program), target))
                program.append((JA, 0, 0, 0))  # patched once the body's place is known
        program.append(ret(default))
        return
    middle = len(entries) // 2
    program.append(jump(JGE, entries[middle][0], 0, 1))
    to_right = len(program)
    program.append((JA, 0, 0, 0))
    _search(entries[:middle], default, program, bodies)
    program[to_right] = (JA, 0, 0, len(program) - to_right - 1)
    _search(entries[middle:], default, program, bodies)
