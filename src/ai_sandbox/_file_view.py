"""What ``read_file`` shows a model: a page of a text file, an image, or a binary file's kind.

A model reads files through its context window, so a read returns at most one page (the
policy's ``read_page_lines`` and ``read_page_bytes``) and ends with a line that says what is
left and how to ask for it. Images come back as :class:`~ai_sandbox.results.Image` for the
surfaces that show them; other binary files are described (size, media type), not dumped.
Pure functions over bytes already read through the path layer.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass, field
from typing import Any, cast

from ai_sandbox._media import IMAGE_TYPES, SNIFF_BYTES, image_size, media_type
from ai_sandbox.results import DirEntry, Image, ImageMediaType

__all__ = ["FileView", "big_file_view", "describe_entries", "view_file"]


@dataclass(frozen=True, slots=True)
class FileView:
    """A file as the model sees it: text content, structured data and any image."""

    content: str
    data: dict[str, Any]
    images: tuple[Image, ...] = field(default=())


def view_file(
    path: str,
    raw: bytes,
    *,
    offset: int = 0,
    limit: int | None = None,
    page_lines: int,
    page_bytes: int,
) -> FileView:
    """The view of ``raw`` (all of the file at ``path``) for one ``read_file`` call."""
    kind = media_type(raw[:SNIFF_BYTES])
    if kind in IMAGE_TYPES:
        return _image(path, raw, kind)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _binary(path, raw, kind)
    if "\x00" in text:  # valid UTF-8, but NUL bytes mean a binary format
        return _binary(path, raw, kind)
    return _page(path, text, len(raw), offset, limit, page_lines, page_bytes)


def _image(path: str, raw: bytes, kind: str) -> FileView:
    width, height = image_size(raw, kind)
    image = Image(
        media_type=cast(ImageMediaType, kind),
        width=width,
        height=height,
        data_base64=base64.b64encode(raw).decode("ascii"),
        name=path,
    )
    size = f"{width}x{height} pixels, " if width and height else ""
    content = f"{path} is an image ({kind}, {size}{len(raw)} bytes)."
    data = {"path": path, "media_type": kind, "size_bytes": len(raw)}
    return FileView(content, {**data, "width": width, "height": height}, (image,))


def _binary(path: str, raw: bytes, kind: str | None) -> FileView:
    kind = kind or mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"
    content = (
        f"{path} is a binary file ({kind}, {len(raw)} bytes); it is not text, so its content "
        "is not shown. Process it with run_python if you need what is inside."
    )
    return FileView(content, {"path": path, "media_type": kind, "size_bytes": len(raw)})


def _line_count(text: str) -> int:
    """Lines in ``text``; line breaks are ``\\n`` only, as in editors' line numbers (a ``\\r``
    or form feed inside a line does not split it), and a last line needs no ``\\n``."""
    return text.count("\n") + (0 if not text or text.endswith("\n") else 1)


def _lines_from(text: str, offset: int, count: int) -> list[str]:
    """``count`` lines of ``text`` from line ``offset``, each with its ``\\n``. Splits only as
    far as needed: a page of a large file costs the page, not the file."""
    parts = text.split("\n", offset + count)
    if len(parts) <= offset + count:  # split to the end: the last part is the file's tail
        tail = parts.pop()  # what follows the last line break ("" if the file ends with one)
        lines = [part + "\n" for part in parts] + ([tail] if tail else [])
    else:
        parts.pop()  # the unsplit rest of the file
        lines = [part + "\n" for part in parts]
    return lines[offset : offset + count]


def _page(
    path: str,
    text: str,
    size: int,
    offset: int,
    limit: int | None,
    page_lines: int,
    page_bytes: int,
) -> FileView:
    total = _line_count(text)
    data: dict[str, Any] = {
        "path": path,
        "media_type": "text/plain",
        "size_bytes": size,
        "total_lines": total,
        "offset": offset,
    }
    if offset and offset >= total:
        note = f"[{path} has {total} lines; offset={offset} is past its end]"
        return FileView(note, {**data, "lines": 0, "next_offset": None})
    want = min(limit if limit is not None else page_lines, page_lines)
    candidates = _lines_from(text, offset, want)
    chosen: list[str] = []
    used = 0
    cut_line = False
    whole = "".join(candidates)
    if len(whole) * 4 <= page_bytes or len(whole.encode("utf-8")) <= page_bytes:
        candidates, chosen = [], candidates  # the usual case: the lines fit, no per-line count
    for line in candidates:
        cost = len(line.encode("utf-8"))
        if used + cost > page_bytes:
            if not chosen:  # one line longer than a page: show its start
                chosen.append(_cut(line, page_bytes))
                cut_line = True
            break
        chosen.append(line)
        used += cost
    end = offset + len(chosen)
    page = "".join(chosen)
    data.update(lines=len(chosen), next_offset=end if end < total else None)
    if offset == 0 and end == total and not cut_line:
        return FileView(page, data)  # the whole file: exactly its text
    notes: list[str] = []
    if cut_line:
        notes.append(
            f"line {offset + 1} is longer than a page ({page_bytes} bytes); only its start is "
            "shown (use run_python to process it)"
        )
    where = f"lines {offset + 1}-{end} of {total}"
    if end < total:
        notes.append(f"{where}; call read_file with offset={end} to read on")
    else:
        notes.append(f"{where}; end of file")
    separator = "" if page.endswith("\n") or not page else "\n"
    return FileView(f"{page}{separator}[{'; '.join(notes)}]", data)


def _cut(line: str, limit: int) -> str:
    """The start of ``line`` that fits ``limit`` UTF-8 bytes (never half a character)."""
    return line.encode("utf-8")[:limit].decode("utf-8", "ignore")


def big_file_view(path: str, kind: str | None, size: int, cap: int) -> FileView:
    """A binary file over ``max_file_bytes``: its kind and size (not read, not shown)."""
    kind = kind or mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"
    content = (
        f"{path} is a binary file ({kind}, {size} bytes); it is larger than the "
        f"{cap}-byte limit for one read (max_file_bytes), so its content is not shown."
    )
    return FileView(content, {"path": path, "media_type": kind, "size_bytes": size})


def describe_entries(entries: list[DirEntry], notes: list[str]) -> str:
    """A listing as a model reads it: one entry per line, a directory with a trailing ``/``,
    a file with its size, a link with where it leads; then any notes in brackets."""
    lines = [_describe(entry) for entry in entries] or ["(empty directory)"]
    lines += [f"[{note}]" for note in notes]
    return "\n".join(lines)


def _describe(entry: DirEntry) -> str:
    if entry.type == "dir":
        return f"{entry.path}/"
    if entry.type == "file":
        return f"{entry.path}  ({_size(entry.size)})"
    if entry.type == "other":
        return f"{entry.path}  (special file: not readable)"
    if entry.outside_root:
        return f"{entry.path}  (symlink leading outside the project root: cannot be read)"
    if entry.target_type is None:  # past the links a listing resolves (MAX_LINKS_RESOLVED)
        return f"{entry.path}  (symlink; list or read it by its path to see where it leads)"
    if entry.target_type == "missing":
        return f"{entry.path}  (symlink to {entry.target}, which does not exist)"
    if entry.target_type in ("file", "dir", "other"):
        what = {"file": _size(entry.size), "dir": "a directory", "other": "a special file"}
        return f"{entry.path} -> {entry.target}  (symlink; {what[entry.target_type]})"
    return f"{entry.path}  (symlink the policy keeps off limits)"


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size} bytes" if size != 1 else "1 byte"
