"""The host's check of the images a worker reports (``language="python"`` plots).

A worker's result is untrusted JSON: code that escaped the executor inside the worker can
write any payload. So every image is checked again here, on the host, before it becomes an
:class:`~ai_sandbox.results.Image`: at most ``max_images`` of them, each a PNG (signature and
IHDR chunk) of at most ``max_image_bytes`` once decoded, in strict base64, its width and height
read from the PNG itself (not from the worker's word), its name short plain text. Anything else
makes the whole result malformed (``WorkerError``): a worker of ours never sends it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ai_sandbox.exceptions import WorkerError
from ai_sandbox.executor.figures import png_size
from ai_sandbox.executor.inputs import has_lone_surrogate
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import Image

__all__ = ["MAX_IMAGE_NAME", "checked_images"]

#: Longest image name accepted ("figure 12").
MAX_IMAGE_NAME = 64


def checked_images(raw: Any, policy: SandboxPolicy) -> tuple[Image, ...]:
    """``raw`` (the payload's ``images``) as checked images; ``WorkerError`` if malformed."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise WorkerError("the worker sent malformed images")
    if policy.language != "python" and raw:
        raise WorkerError("the worker sent images, which only python-mode runs produce")
    if len(raw) > policy.max_images:
        raise WorkerError(f"the worker sent {len(raw)} images; at most {policy.max_images}")
    return tuple(_image(item, policy.max_image_bytes) for item in raw)


def _image(item: Any, max_bytes: int) -> Image:
    if not isinstance(item, dict) or item.get("media_type") != "image/png":
        raise WorkerError("the worker sent an image that is not a PNG description")
    text = item.get("data_base64")
    if not isinstance(text, str) or len(text) > 4 * ((max_bytes + 2) // 3):
        raise WorkerError("the worker sent an image over max_image_bytes")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise WorkerError("the worker sent an image that is not valid base64") from None
    size = png_size(data)
    if size is None:
        raise WorkerError("the worker sent an image that is not a PNG")
    if len(data) > max_bytes:
        raise WorkerError("the worker sent an image over max_image_bytes")
    name = item.get("name")
    if name is not None and (
        not isinstance(name, str)
        or len(name) > MAX_IMAGE_NAME
        or not name.isprintable()
        or has_lone_surrogate(name)
    ):
        raise WorkerError("the worker sent an image with a malformed name")
    return Image(
        media_type="image/png",
        width=size[0],
        height=size[1],
        data_base64=base64.b64encode(data).decode("ascii"),
        name=name,
    )
