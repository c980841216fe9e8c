"""Restricted mode runs everyday Python as CPython does (issue 10): the compatibility corpus
of ``tests/corpus/restricted`` (HumanEval solutions, tutorial-style programs, class-heavy agent
code) passes at 99 % or more in the default policy, and every refusal left is a reviewed one."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "corpus" / "restricted"))

from compare import compare, load

#: The programs CPython runs that the sandbox refuses on purpose, and why.
REVIEWED_REFUSALS = {
    "HumanEval/160": "builds an expression as a string and calls eval()",
    "agents-blind/class-counter-metaclass-free": "reads a class's __mro__ (the class hierarchy)",
}


def test_corpus_is_a_few_hundred_programs_from_named_sources() -> None:
    """It holds a few hundred programs, each naming where it comes from."""
    programs = load()
    assert len(programs) >= 250
    assert all(p["source"] and p["code"] for p in programs)
    assert len({p["id"] for p in programs}) == len(programs)


def test_corpus_runs_as_in_cpython() -> None:
    """It runs at least 99 % of what CPython runs, with the same results and output, and
    refuses only the reviewed programs."""
    runs, same, differing = compare()
    assert same / runs >= 0.99, differing
    assert {pid for pid, _ in differing} <= set(REVIEWED_REFUSALS), differing
