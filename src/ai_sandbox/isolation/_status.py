"""The names of the OS layers and the status record each probe reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["LANDLOCK_LAYERS", "LAYER_NAMES", "LayerStatus"]

#: Every layer, in the order a worker applies them.
LAYER_NAMES: Final[tuple[str, ...]] = (
    "clean_env",
    "close_fds",
    "new_session",
    "pdeathsig",
    "rlimits",
    "network_namespace",
    "fs_view",
    "no_privileges",
    "no_new_privs",
    "landlock_fs",
    "landlock_net",
    "landlock_scope",
    "seccomp",
)

#: The layers one Landlock ruleset enforces (applied together, as ``landlock_fs``).
LANDLOCK_LAYERS: Final[tuple[str, ...]] = ("landlock_fs", "landlock_net", "landlock_scope")


@dataclass(frozen=True, slots=True)
class LayerStatus:
    """Whether a layer is available on this machine, and why (or why not) in words."""

    name: str
    available: bool
    detail: str
