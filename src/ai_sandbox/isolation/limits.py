"""Frame caps for each direction of the host <-> worker channel, derived from the policy.

Both ends compute the same numbers: the worker refuses to send more than the host will read,
and the host refuses to read more than these caps (checked on the header, before the body).
(The worker's rlimits live in :mod:`~ai_sandbox.isolation.rlimits`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = [
    "FILE_BURST_BYTES",
    "FILE_BURST_REQUESTS",
    "FILE_BYTES_PER_S",
    "FILE_REQUESTS_PER_S",
    "MAX_FILE_RECORDS",
    "MAX_FILE_REQUESTS",
    "MAX_JOB_BYTES",
    "file_transfer_cap",
    "host_cpu_budget_s",
    "host_recv_cap",
    "read_request_cap",
    "result_frame_cap",
    "worker_recv_cap",
]

#: Largest job frame (code + inputs as JSON) the host sends a worker.
MAX_JOB_BYTES = 16 * 1024 * 1024
#: Room for the JSON envelope around the capped fields.
_SLACK = 64 * 1024
#: Worst-case growth of text when JSON-escaped (a control character becomes ``\\u0000``).
_ESCAPE_FACTOR = 6


def _b64_len(size: int) -> int:
    return 4 * ((size + 2) // 3)


def result_frame_cap(policy: PolicyView) -> int:
    """Largest frame a worker may send that is not a file-write request: a result (its output
    and value, every character possibly escaped) or a read request."""
    return (
        _ESCAPE_FACTOR * (policy.max_output_bytes + policy.max_result_bytes)
        + _SLACK
        + (_image_room(policy))
    )


def _image_room(policy: PolicyView) -> int:
    """Room for a python-mode result's images: base64 PNGs (no escaping) and their fields."""
    if getattr(policy, "language", "restricted") != "python":
        return 0
    return policy.max_images * (_b64_len(policy.max_image_bytes) + 512)


def host_recv_cap(policy: PolicyView) -> int:
    """Largest frame a worker may send: a result payload or a file-write request."""
    write_request = _b64_len(policy.max_file_bytes) + _ESCAPE_FACTOR * policy.max_path_length
    return max(result_frame_cap(policy), write_request + _SLACK)


def worker_recv_cap(policy: PolicyView) -> int:
    """Largest frame the host may send a worker: a job or a file-read reply."""
    return max(MAX_JOB_BYTES, _b64_len(policy.max_file_bytes)) + _SLACK


#: Most file requests (reads and writes) one run may make; past it the host kills the worker
#: and the run ends ``status="limit"``, ``rule="file_requests"``.
MAX_FILE_REQUESTS = 10_000

#: The pace of one run's file requests: after a burst of ``FILE_BURST_REQUESTS`` requests or
#: ``FILE_BURST_BYTES`` bytes, the host answers no faster than ``FILE_REQUESTS_PER_S``
#: requests and ``FILE_BYTES_PER_S`` bytes a second (it waits, idle, before the next request;
#: the run's wall clock still runs). A flood then costs the host a small share of a core: a
#: request costs the host about 0.2 to 0.4 ms of CPU, so 500 a second stay well inside the
#: host CPU budget of :func:`host_cpu_budget_s` (a quarter of the wall clock), and a run that
#: reads files in a loop ends at its time limit (keeping a session's state), not at that budget.
FILE_BURST_REQUESTS = 500
FILE_REQUESTS_PER_S = 500
FILE_BURST_BYTES = 32 * 1024 * 1024
FILE_BYTES_PER_S = 8 * 1024 * 1024

#: Most file requests a run's result and audit record list one by one (the rest are counted).
MAX_FILE_RECORDS = 100


def read_request_cap(policy: PolicyView) -> int:
    """Largest read-request frame: ``{"type":"read","path":...}`` with a maximal path (every
    character escaped, as a surrogate pair at worst: 12 bytes)."""
    return 2 * _ESCAPE_FACTOR * policy.max_path_length + 64


def file_transfer_cap(policy: PolicyView) -> int:
    """Most bytes one run may read and write through the host in all (``rule="file_requests"``
    past it): sixteen maximal files, and never less than 64 MiB."""
    return max(64 * 1024 * 1024, 16 * policy.max_file_bytes)


def host_cpu_budget_s(policy: PolicyView) -> float:
    """CPU time the host may spend serving one run's worker (receiving and decoding its frames,
    answering its file requests): a quarter of a second plus a quarter of the run's wall
    clock. Past it the worker is killed and the run ends ``status="limit"``,
    ``rule="host_cpu"``. An ordinary run costs the host a few milliseconds; paced file
    requests (see :data:`FILE_BYTES_PER_S`) stay well below it, so it is the backstop."""
    return 0.25 + 0.25 * policy.timeout_s
