"""The BPF assembler behind the seccomp filter, run on a small interpreter of classic BPF.

The kernel tests (test_layers_seccomp, test_isolation_kernel_surface) show the installed filter
refuses what it must; these check the program's shape for every call number, which no kernel
test can enumerate.
"""

from __future__ import annotations

import random
import struct

import pytest

from ai_sandbox.isolation import _bpf as bpf
from ai_sandbox.isolation import _syscalls, seccomp


def _run(program: list[bpf.Insn], nr: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """Execute ``program`` for call ``nr`` with ``args`` (little-endian seccomp_data)."""
    data = struct.pack("<iIQ6Q", nr, 0xC000003E, 0, *args)
    acc, pc = 0, 0
    for _ in range(100_000):
        op, jt, jf, k = program[pc]
        if op == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif op == 0x06:
            return k
        elif op == bpf.JA:
            pc += 1 + k
        else:
            taken = {bpf.JEQ: acc == k, bpf.JGE: acc >= k, bpf.JSET: bool(acc & k)}[op]
            pc += 1 + (jt if taken else jf)
    raise AssertionError("the program did not return")


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 50, 300])
def test_dispatch_reaches_every_target_and_the_default(size: int) -> None:
    """It sends each listed number to its action and every other number to the default."""
    rng = random.Random(size)
    numbers = rng.sample(range(600), size)
    targets: dict[int, bpf.Target] = {nr: rng.choice([bpf.EPERM, bpf.ENOSYS]) for nr in numbers}
    program = [bpf.load(bpf.OFFSET_NR), *bpf.dispatch(targets, bpf.ALLOW)]
    for nr in range(620):
        assert _run(program, nr) == targets.get(nr, bpf.ALLOW), nr


def test_dispatch_runs_argument_rules() -> None:
    """It jumps to an argument rule's body, however far away it lies."""
    targets: dict[int, bpf.Target] = {nr: bpf.EPERM for nr in range(0, 400, 2)}
    targets[401] = tuple(bpf.deny_flags(401, 2, 0x1)[1:])
    program = [bpf.load(bpf.OFFSET_NR), *bpf.dispatch(targets, bpf.ALLOW)]
    assert _run(program, 401, (0, 0, 0x1, 0, 0, 0)) == bpf.EPERM
    assert _run(program, 401, (0, 0, 0x2, 0, 0, 0)) == bpf.ALLOW


@pytest.mark.skipif(_syscalls.ARCH is None, reason="no syscall table for this CPU")
def test_the_worker_filter_refuses_every_denied_number_and_allows_the_rest() -> None:
    """It refuses each denied call and allows each other number without an argument rule."""
    arch = _syscalls.ARCH
    assert arch is not None
    raw = seccomp.build_filter(arch)
    program = [struct.unpack_from("=HBBI", raw, i) for i in range(0, len(raw), 8)]
    denied = {arch.numbers[n] for n in seccomp.DENIED_SYSCALLS if n in arch.numbers}
    judged = {arch.numbers[n] for n in ("clone", "kill", "prlimit64", "prctl", "fcntl", "ioctl")}
    judged |= {arch.numbers[n] for n in ("sendto", "recvfrom", "sendmsg", "recvmsg")}
    judged |= {arch.numbers[n] for n in ("sendmmsg", "recvmmsg", "clone3")}
    for nr in range(0, 600):
        expected = bpf.EPERM if nr in denied else None if nr in judged else bpf.ALLOW
        if expected is not None:
            assert _run(program, nr) == expected, nr
    prctl = arch.numbers["prctl"]
    assert _run(program, prctl, (1, 0, 0, 0, 0, 0)) == bpf.EPERM  # clear pdeathsig
    assert _run(program, prctl, (1, 9, 0, 0, 0, 0)) == bpf.ALLOW  # SIGKILL again
    assert _run(program, prctl, (15, 0, 0, 0, 0, 0)) == bpf.ALLOW  # PR_SET_NAME
