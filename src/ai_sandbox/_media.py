"""What kind of file some bytes are, and an image's size, from the bytes alone.

Small header parsers, no imaging library: :func:`media_type` looks at the first bytes (magic
numbers) and :func:`image_size` reads the width and height that PNG, GIF, JPEG and WebP store
in their headers. Both are pure functions over untrusted bytes: they never raise on malformed
input (an unknown size is ``(0, 0)``) and they look at a bounded number of bytes.
"""

from __future__ import annotations

import codecs
import struct
from typing import Final

__all__ = ["IMAGE_TYPES", "SNIFF_BYTES", "image_size", "looks_binary", "media_type"]

#: The image types the surfaces show to a model as images.
IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: How many leading bytes :func:`media_type` needs.
SNIFF_BYTES: Final = 16

#: (magic prefix, media type), checked in order.
_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\x7fELF", "application/x-executable"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"\x93NUMPY", "application/x-npy"),
    (b"\x80\x04\x95", "application/x-python-pickle"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
#: JPEG start-of-frame markers (they carry the size); C4, C8 and CC are not frames.
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Most JPEG segments looked at before giving up on finding the frame header.
_JPEG_MAX_SEGMENTS: Final = 512


def media_type(head: bytes) -> str | None:
    """The media type the leading bytes announce, or ``None`` if they match no known format."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` (a file or its first bytes) is not text: it holds a NUL byte or is not
    UTF-8 (a character cut at the end of a head does not count)."""
    if b"\x00" in data:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return True
    return False


def image_size(data: bytes, kind: str) -> tuple[int, int]:
    """``(width, height)`` in pixels from an image's header; ``(0, 0)`` if it cannot be read."""
    try:
        if kind == "image/png":
            return _png(data)
        if kind == "image/gif":
            return _gif(data)
        if kind == "image/jpeg":
            return _jpeg(data)
        if kind == "image/webp":
            return _webp(data)
    except (struct.error, IndexError, ValueError):
        pass
    return 0, 0


def _png(data: bytes) -> tuple[int, int]:
    # signature (8), chunk length (4), b"IHDR", width (4, big-endian), height (4)
    if data[12:16] != b"IHDR":
        return 0, 0
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _gif(data: bytes) -> tuple[int, int]:
    # "GIF89a", then the logical screen's width and height (2 bytes each, little-endian)
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int]:
    pos = 2  # after the SOI marker
    for _ in range(_JPEG_MAX_SEGMENTS):
        while pos < len(data) and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if data[pos] != 0xFF:
            return 0, 0
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xD9 or length < 2:  # end of image, or a corrupt segment
            return 0, 0
        pos += 2 + length
    return 0, 0


def _webp(data: bytes) -> tuple[int, int]:
    if len(data) < 30:  # every variant's size ends by byte 30
        return 0, 0
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        if data[23:26] != b"\x9d\x01\x2a":
            return 0, 0
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14 + 14 bits of (size - 1)
        if data[20] != 0x2F:
            return 0, 0
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit (size - 1) each, after 4 bytes of flags
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return 0, 0
