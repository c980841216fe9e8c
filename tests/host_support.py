"""Helpers for the host-boundary tests: a Sandbox whose workers run without the language
guard (as if RestrictedPython were bypassed), and worker code that talks to the host raw."""

from __future__ import annotations

from pathlib import Path

from layers_support import FIND_CHANNEL

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog
from ai_sandbox.isolation.worker_backend import WorkerBackend

__all__ = ["RAW_REQUEST", "escaped_sandbox", "raw_request"]

#: Escaped code sending one file request straight to the host's broker on its channel
#: (``REQUEST`` is the request); ``reply`` is the host's answer.
RAW_REQUEST = """
import json, socket, struct
chan = socket.socket(fileno=CHANNEL_FD)
def ask(request):
    body = json.dumps(request).encode()
    chan.sendall(struct.pack('>I', len(body)) + body)
    size = struct.unpack('>I', chan.recv(4, socket.MSG_WAITALL))[0]
    return json.loads(chan.recv(size, socket.MSG_WAITALL))
"""


def raw_request(request: dict[str, object], then: str = "") -> str:
    """Guard-off worker code: send ``request`` to the broker, then run ``then``."""
    return f"{FIND_CHANNEL}{RAW_REQUEST}reply = ask({request!r})\n{then}"


def escaped_sandbox(root: Path, policy: SandboxPolicy, audit: AuditLog | None = None) -> Sandbox:
    """A ``Sandbox`` (audited if ``audit``) whose workers run with the language guard off."""
    box = Sandbox(root, policy, audit=audit)
    backend = box._get_backend()
    box._backend = WorkerBackend(box.root, policy, _language_guard=False)
    backend.close()
    return box
