"""The matplotlib backend of ``language="python"`` runs: Agg, with ``show()`` as a capture.

Selected with ``MPLBACKEND=module://ai_sandbox.executor.mpl_backend`` (or ``matplotlib.use``)
by the zygote and the worker. Drawing is plain Agg (no display, no GUI event loop); ``plt.show()``
never blocks: inside a run it renders the open figures into the run's images and closes them,
as a notebook's inline backend does; outside a run it does nothing.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ai_sandbox.executor.figures import SHOW_HANDLER

__all__ = ["FigureCanvas", "FigureManager", "show"]

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    """``plt.show()``: hand the open figures to the run (never blocks, never warns)."""
    handler = SHOW_HANDLER.get()
    if handler is not None:
        handler()
