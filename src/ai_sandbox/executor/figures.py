"""Matplotlib figures as PNG images in a run's result (``language="python"``).

Inside the worker: at the end of a run (and whenever the code calls ``plt.show()``, which the
sandbox's non-interactive backend turns into a capture, see :mod:`.mpl_backend`), every open
figure is rendered to PNG, held to the policy's caps (``max_images``, ``max_image_bytes``) and
closed. The images travel as base64 text in the JSON result and the host checks them again
(:mod:`ai_sandbox.isolation.image_check`): they are untrusted output like everything else.
"""

from __future__ import annotations

import base64
import contextvars
import io
import struct
import sys
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["SHOW_HANDLER", "FigureCapture", "png_size"]

#: What ``plt.show()`` does in a run: the run's capture (unset outside a run: nothing).
SHOW_HANDLER: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "ai_sandbox_show_handler", default=None
)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or ``None`` if ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class FigureCapture:
    """The images of one run, and notes about those that could not be returned."""

    def __init__(self, max_images: int, max_image_bytes: int) -> None:
        self.max_images = max_images
        self.max_image_bytes = max_image_bytes
        self.images: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._counter = 0

    def capture_open_figures(self) -> None:
        """Render every open figure to PNG and close it (no-op if pyplot was never imported)."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        helpers = sys.modules.get("matplotlib._pylab_helpers")
        if pyplot is None or helpers is None:
            return
        for manager in list(helpers.Gcf.get_all_fig_managers()):
            figure = manager.canvas.figure
            self._counter += 1
            label = f"figure {self._counter}"  # unique in the run (pyplot reuses numbers)
            try:
                self._add(figure, label)
            except Exception as exc:  # the code's own broken figure: say so, go on
                self.notes.append(f"[{label} could not be rendered: {type(exc).__name__}: {exc}]")
            finally:
                pyplot.close(figure)

    def _add(self, figure: Any, label: str) -> None:
        if len(self.images) >= self.max_images:
            self.notes.append(f"[{label} not returned: at most {self.max_images} images per run]")
            return
        buffer = io.BytesIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure.savefig(buffer, format="png")
        # Rendering warnings (a glyph missing from the font...) as notes: our file and line
        # are not the code's business.
        for message in dict.fromkeys(str(w.message) for w in caught):
            self.notes.append(f"[{label}: {message}]")
        data = buffer.getvalue()
        size = png_size(data)
        if size is None:
            self.notes.append(f"[{label} did not render as PNG]")
            return
        if len(data) > self.max_image_bytes:
            self.notes.append(
                f"[{label} not returned: its PNG is {len(data)} bytes, over the limit of "
                f"{self.max_image_bytes} (max_image_bytes); use a smaller figsize or dpi]"
            )
            return
        self.images.append(
            {
                "media_type": "image/png",
                "width": size[0],
                "height": size[1],
                "data_base64": base64.b64encode(data).decode("ascii"),
                "name": label,
            }
        )
