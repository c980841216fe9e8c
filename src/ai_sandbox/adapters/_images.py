"""Images in tool results, for the surfaces: a data URL, and the words for surfaces without
images (Chat Completions tool messages carry text only). Framework-free."""

from __future__ import annotations

from collections.abc import Sequence

from ai_sandbox.results import Image

__all__ = ["data_url", "describe_image", "not_shown_note"]


def data_url(image: Image) -> str:
    """``data:<media type>;base64,<bytes>``: how OpenAI's ``input_image`` takes inline bytes."""
    return f"data:{image.media_type};base64,{image.data_base64}"


def describe_image(image: Image) -> str:
    """``'plot.png' (image/png, 640x480 pixels)``: what an image is, in a few words."""
    size = f", {image.width}x{image.height} pixels" if image.width and image.height else ""
    name = f"{image.name!r} " if image.name else ""
    return f"{name}({image.media_type}{size})"


def not_shown_note(images: Sequence[Image]) -> str:
    """The line a text-only surface adds: what was produced, and how to get it."""
    if not images:
        return ""
    count = "1 image" if len(images) == 1 else f"{len(images)} images"
    listed = ", ".join(describe_image(image) for image in images)
    return (
        f"[{count} produced but not shown here, because these tool results carry text only: "
        f"{listed}. The application receives {'it' if len(images) == 1 else 'them'} in the "
        "tool result's images; to hand a plot to the user as a file, save it with "
        "plt.savefig('name.png') and give the path.]"
    )
