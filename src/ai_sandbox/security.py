"""The path layer's public face: every file the sandbox touches is beneath one root.

:func:`safe_open` opens a file beneath the root race-free (recommended for host code);
:func:`safe_path_access` answers "which file does this path name?" (point in time);
:class:`SafeFS` does the file operations the tools and the executor's ``open()`` need. The
implementation lives in :mod:`ai_sandbox.pathlayer` (see :mod:`ai_sandbox.pathlayer.safefs`
for how a path is judged).
"""

from __future__ import annotations

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.executor.context import FileAccess
from ai_sandbox.pathlayer.access import safe_open, safe_path_access
from ai_sandbox.pathlayer.safefs import MAX_DIR_ENTRIES as MAX_DIR_ENTRIES
from ai_sandbox.pathlayer.safefs import MAX_DIR_SCAN as MAX_DIR_SCAN
from ai_sandbox.pathlayer.safefs import SafeFS

__all__ = ["FileAccess", "SafeFS", "SecurityError", "safe_open", "safe_path_access"]
