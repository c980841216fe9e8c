"""Frame caps for each direction of the host <-> worker channel, derived from the policy.

Both ends compute the same numbers: the worker refuses to send more than the host will read,
and the host refuses to read more than these caps (checked on the header, before the body).
(The worker's rlimits live in :mod:`~ai_sandbox.isolation.rlimits`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = ["MAX_JOB_BYTES", "host_recv_cap", "result_frame_cap", "worker_recv_cap"]

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
