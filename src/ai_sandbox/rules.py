"""Every rule name a refusal or a limit may carry (``ErrorInfo.rule``, ``SecurityError.rule``,
``ResourceLimitExceeded.limit``), in one place.

The host keeps a rule that an isolated worker reports only if it is listed here (and marks it
as reported by the worker, see ``ErrorInfo.reported_by``): a worker whose code escaped the
language guard can write any result, and an invented rule must not reach a reviewer as a
policy decision. A test scans the package for rule names and fails on one missing here.
"""

from __future__ import annotations

from typing import Final

from ai_sandbox.pathlayer.errors import RULES as _PATH_LAYER_RULES

__all__ = ["KNOWN_RULES", "LIMIT_RULES", "PATH_RULES", "PROTOCOL_RULES", "RUN_RULES"]

#: The path layer's refusals (``ai_sandbox.security``): decided in the host, by the broker. The
#: path layer keeps its own table of them (:data:`ai_sandbox.pathlayer.errors.RULES`).
PATH_RULES: Final = frozenset(_PATH_LAYER_RULES)

#: The language guard's refusals (the executor): decided where the code runs.
RUN_RULES: Final = frozenset(
    {
        "attribute",
        "builtin",
        "class",
        "format",
        "import",
        "inputs",
        "item",
        "iter",
        "open",
        "policy",
        "print",
        "syntax",
        "type",
        "write",
    }
)

#: Resource limits (``ResourceLimitExceeded.limit`` and the host's verdicts on a dead worker).
LIMIT_RULES: Final = frozenset(
    {
        "cpu_or_memory",
        "dir_entries",
        "disk",
        "file_requests",
        "file_size",
        "host_cpu",
        "job_size",
        "memory",
        "message",
        "result",
        "timeout",  # a time.sleep that would outlast the run's limit (executor.replacements)
    }
)

#: Refusals of the host <-> worker protocol itself.
PROTOCOL_RULES: Final = frozenset({"protocol", "seccomp"})

#: Every rule name.
KNOWN_RULES: Final = PATH_RULES | RUN_RULES | LIMIT_RULES | PROTOCOL_RULES
