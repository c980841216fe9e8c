"""Files as an agent needs them: paged reads, binary files and images, detailed listings, and
"no such file" as a mistake rather than a refusal."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from image_support import gif, jpeg, png, webp

from ai_sandbox import AuditLog, Sandbox, SandboxPolicy, SecurityError
from ai_sandbox._file_view import view_file
from ai_sandbox._media import image_size, media_type
from ai_sandbox.audit.reader import read_records
from ai_sandbox.audit.review import format_stats, stats


def _policy(**overrides: Any) -> SandboxPolicy:
    return SandboxPolicy(isolation="none", **overrides)


@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    with Sandbox(root=project, policy=_policy()) as sb:
        yield sb


def _numbered(project: Path, count: int, name: str = "big.txt") -> list[str]:
    lines = [f"line {n}" for n in range(1, count + 1)]
    (project / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


# -- paged reads ---------------------------------------------------------------------------------
def test_a_long_file_comes_back_one_page_with_how_to_read_on(
    sandbox: Sandbox, project: Path
) -> None:
    """It returns the first 2000 lines and a line saying what is left and how to ask for it."""
    lines = _numbered(project, 5312)
    res = sandbox.call("read_file", {"path": "big.txt"})
    assert res.ok
    body, footer = res.content.rsplit("\n", 1)
    assert body.split("\n") == lines[:2000]
    assert footer == "[lines 1-2000 of 5312; call read_file with offset=2000 to read on]"
    assert res.data["next_offset"] == 2000
    assert res.data["total_lines"] == 5312


def test_paging_with_offset_reads_the_whole_file_exactly_once(
    sandbox: Sandbox, project: Path
) -> None:
    """It hands out consecutive pages until the last one says the file ended."""
    lines = _numbered(project, 5312)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        res = sandbox.call("read_file", {"path": "big.txt", "offset": offset})
        body, footer = res.content.rsplit("\n", 1)
        seen += body.split("\n")
        offset = res.data["next_offset"]
    assert seen == lines
    assert footer == "[lines 4001-5312 of 5312; end of file]"


def test_limit_asks_for_fewer_lines(sandbox: Sandbox, project: Path) -> None:
    """It returns at most `limit` lines from `offset`."""
    _numbered(project, 100)
    res = sandbox.call("read_file", {"path": "big.txt", "offset": 10, "limit": 3})
    assert res.content == (
        "line 11\nline 12\nline 13\n[lines 11-13 of 100; call read_file with offset=13 to read on]"
    )


def test_limit_cannot_exceed_the_policy_page(project: Path) -> None:
    """It caps a large `limit` at the policy's read_page_lines."""
    _numbered(project, 50)
    with Sandbox(root=project, policy=_policy(read_page_lines=10)) as box:
        res = box.call("read_file", {"path": "big.txt", "limit": 1000})
    assert res.data["lines"] == 10
    assert res.content.endswith("[lines 1-10 of 50; call read_file with offset=10 to read on]")


def test_a_page_is_held_to_the_policy_bytes(project: Path) -> None:
    """It stops a page at read_page_bytes, on a line boundary."""
    (project / "wide.txt").write_text(("x" * 99 + "\n") * 100, encoding="utf-8")
    with Sandbox(root=project, policy=_policy(read_page_bytes=1024)) as box:
        res = box.call("read_file", {"path": "wide.txt"})
    assert res.data["lines"] == 10
    assert len(res.content.encode()) < 1024 + 100
    assert res.content.endswith("[lines 1-10 of 100; call read_file with offset=10 to read on]")


def test_one_line_longer_than_a_page_shows_its_start(project: Path) -> None:
    """It shows the start of an over-long line (never half a character) and says so."""
    (project / "min.json").write_text("é" * 5000 + "\nnext\n", encoding="utf-8")
    with Sandbox(root=project, policy=_policy(read_page_bytes=1025)) as box:
        res = box.call("read_file", {"path": "min.json"})
    assert res.content.startswith("é" * 512 + "\n[line 1 is longer than a page")
    assert "offset=1 to read on" in res.content


def test_a_short_file_is_returned_exactly(sandbox: Sandbox, project: Path) -> None:
    """It returns a file that fits one page exactly as it is, with no added line."""
    text = "a\r\nb\x0cc\n\nlast line without newline"
    (project / "small.txt").write_text(text, encoding="utf-8", newline="")
    assert sandbox.call("read_file", {"path": "small.txt"}).content == text


def test_offset_past_the_end_says_so(sandbox: Sandbox, project: Path) -> None:
    """It answers an offset past the last line with the file's length, not an error."""
    _numbered(project, 5)
    res = sandbox.call("read_file", {"path": "big.txt", "offset": 9})
    assert res.ok
    assert res.content == "[big.txt has 5 lines; offset=9 is past its end]"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        pytest.param({"path": "big.txt", "offset": -1}, "offset", id="negative-offset"),
        pytest.param({"path": "big.txt", "limit": 0}, "limit", id="zero-limit"),
        pytest.param({"path": "big.txt", "offset": "x"}, "offset", id="offset-not-int"),
        pytest.param({"path": "big.txt", "offset": True}, "offset", id="offset-true"),
        pytest.param({"path": "big.txt", "limit": False}, "limit", id="limit-false"),
    ],
)
def test_bad_paging_arguments_are_tool_input_errors(
    sandbox: Sandbox, arguments: dict[str, Any], fragment: str
) -> None:
    """It refuses a negative offset, a zero limit, or a boolean for either, with the argument
    named."""
    res = sandbox.call("read_file", arguments)
    assert not res.ok
    assert res.error is not None
    assert res.error.type == "ToolInputError"
    assert fragment in res.content


# -- binary files and images ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        pytest.param("blob.bin", b"\xff\xfe\x00binary", "application/octet-stream", id="unknown"),
        pytest.param("a.zip", b"PK\x03\x04" + b"\x00" * 40, "application/zip", id="zip"),
        pytest.param("a.pdf", b"%PDF-1.7\n\xe2\xe3\xcf\xd3", "application/pdf", id="pdf"),
        pytest.param("a.gz", b"\x1f\x8b\x08\x00\xff", "application/gzip", id="gzip"),
    ],
)
def test_a_binary_file_answers_with_size_and_media_type(
    sandbox: Sandbox, project: Path, name: str, data: bytes, kind: str
) -> None:
    """It describes a binary file (size, media type) instead of failing on it."""
    (project / name).write_bytes(data)
    res = sandbox.call("read_file", {"path": name})
    assert res.ok
    assert f"({kind}, {len(data)} bytes)" in res.content
    assert res.data["media_type"] == kind
    assert res.images == ()


def test_a_binary_file_over_the_cap_is_still_described(project: Path) -> None:
    """It names a large known binary file's kind and size without reading it all."""
    (project / "big.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 5000)
    (project / "big.txt").write_text("x" * 5000, encoding="utf-8")
    with Sandbox(root=project, policy=_policy(max_file_bytes=1000)) as box:
        described = box.call("read_file", {"path": "big.zip"})
        too_big = box.call("read_file", {"path": "big.txt"})
    assert described.ok
    assert "application/zip, 5004 bytes" in described.content
    assert not too_big.ok
    assert "max_file_bytes" in too_big.content


IMAGES = [
    pytest.param("plot.png", png(31, 17), "image/png", id="png"),
    pytest.param("anim.gif", gif(12, 9), "image/gif", id="gif"),
    pytest.param("photo.jpg", jpeg(640, 480), "image/jpeg", id="jpeg"),
    pytest.param("pic.webp", webp(300, 200), "image/webp", id="webp-lossless"),
    pytest.param("ext.webp", webp(4000, 3000, chunk="VP8X"), "image/webp", id="webp-extended"),
    pytest.param("lossy.webp", webp(64, 48, chunk="VP8 "), "image/webp", id="webp-lossy"),
]


@pytest.mark.parametrize(("name", "data", "kind"), IMAGES)
def test_an_image_comes_back_as_image_content(
    sandbox: Sandbox, project: Path, name: str, data: bytes, kind: str
) -> None:
    """It returns a PNG/GIF/JPEG/WebP file as an Image with its size read from the header."""
    (project / name).write_bytes(data)
    res = sandbox.call("read_file", {"path": name})
    assert res.ok
    [image] = res.images
    expected = image_size(data, kind)
    assert (image.media_type, image.width, image.height) == (kind, *expected)
    assert expected != (0, 0)
    assert base64.b64decode(image.data_base64) == data
    assert f"{expected[0]}x{expected[1]} pixels" in res.content


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
        pytest.param(b"\xff\xd8\xff" + b"\xff" * 50, id="jpeg-all-fill"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x00" * 3, id="jpeg-zero-length-segment"),
        pytest.param(b"GIF89a\x01", id="gif-cut"),
        pytest.param(b"RIFF\x00\x00\x00\x00WEBPVP8X", id="webp-cut"),
    ],
)
def test_a_malformed_image_header_is_size_unknown(
    sandbox: Sandbox, project: Path, data: bytes
) -> None:
    """It reads a truncated or corrupt image header as size (0, 0), never an error."""
    kind = media_type(data)
    assert kind is not None
    assert image_size(data, kind) == (0, 0)
    (project / "bad.img").write_bytes(data)
    res = sandbox.call("read_file", {"path": "bad.img"})
    assert res.ok
    assert res.images[0].width == 0


# -- listings ------------------------------------------------------------------------------------
@pytest.fixture
def tree(project: Path, canary: Path) -> Path:
    (project / "data" / "sub" / "deeper").mkdir(parents=True)
    (project / "data" / "sub" / "deeper" / "bottom.txt").write_text("b", encoding="utf-8")
    (project / "data" / "sub" / "mid.txt").write_text("mid", encoding="utf-8")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("secret", encoding="utf-8")
    (project / "link_in").symlink_to("data/numbers.csv")
    (project / "link_dir").symlink_to("data/sub")
    (project / "link_out").symlink_to(canary)
    (project / "link_up").symlink_to("../")
    (project / "link_gone").symlink_to("data/nothing.txt")
    (project / "link_env").symlink_to(".git/config")
    return project


def test_listing_shows_kind_size_and_where_links_lead(sandbox: Sandbox, tree: Path) -> None:
    """It shows each entry's kind and size, and whether a link stays inside the root."""
    res = sandbox.call("list_directory", {"path": "."})
    assert res.ok
    assert res.content.split("\n") == [
        "data/",
        "link_dir -> data/sub  (symlink; a directory)",
        "link_env  (symlink the policy keeps off limits)",
        "link_gone  (symlink to data/nothing.txt, which does not exist)",
        "link_in -> data/numbers.csv  (symlink; 8 bytes)",
        "link_out  (symlink leading outside the project root: cannot be read)",
        "link_up  (symlink leading outside the project root: cannot be read)",
    ]
    entries = {entry["name"]: entry for entry in res.data}
    assert entries["link_out"]["outside_root"] is True
    assert entries["link_out"]["target"] is None  # nothing about the outside is shown
    assert entries["link_in"]["outside_root"] is False
    assert (entries["link_in"]["target"], entries["link_in"]["target_type"]) == (
        "data/numbers.csv",
        "file",
    )
    assert "CANARY" not in json.dumps(res.data)


def test_listing_shows_file_sizes(sandbox: Sandbox) -> None:
    """It gives each file's size in bytes."""
    res = sandbox.call("list_directory", {"path": "data"})
    assert res.content == "data/numbers.csv  (8 bytes)"
    assert res.data[0]["size"] == 8


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        pytest.param(0, ["data/numbers.csv  (8 bytes)", "data/sub/"], id="this-level"),
        pytest.param(
            1,
            [
                "data/numbers.csv  (8 bytes)",
                "data/sub/",
                "data/sub/deeper/",
                "data/sub/mid.txt  (3 bytes)",
            ],
            id="one-level",
        ),
        pytest.param(
            5,
            [
                "data/numbers.csv  (8 bytes)",
                "data/sub/",
                "data/sub/deeper/",
                "data/sub/deeper/bottom.txt  (1 byte)",
                "data/sub/mid.txt  (3 bytes)",
            ],
            id="all-levels",
        ),
    ],
)
def test_recursive_lists_levels_below(
    sandbox: Sandbox, tree: Path, depth: int, expected: list[str]
) -> None:
    """It lists `recursive` levels of subdirectories, depth first and sorted."""
    res = sandbox.call("list_directory", {"path": "data", "recursive": depth})
    assert res.content.split("\n") == expected


def test_recursive_never_enters_links_or_hidden_directories(sandbox: Sandbox, tree: Path) -> None:
    """It does not descend into symlinked or policy-hidden directories."""
    res = sandbox.call("list_directory", {"path": ".", "recursive": 5})
    paths = [entry["path"] for entry in res.data]
    assert not any(p.startswith((".git", "link_dir/", "link_up/")) for p in paths)
    assert "data/sub/deeper/bottom.txt" in paths


def test_recursive_depth_is_capped_by_the_policy(project: Path, tree: Path) -> None:
    """It clamps `recursive` to the policy's list_max_depth and says so."""
    with Sandbox(root=project, policy=_policy(list_max_depth=1)) as box:
        res = box.call("list_directory", {"path": "data", "recursive": 50})
    assert "data/sub/deeper/" in res.content
    assert "bottom.txt" not in res.content
    assert res.content.endswith("[recursive is capped at 1 levels by the policy]")


def test_a_listing_stops_at_the_entry_cap(project: Path) -> None:
    """It stops a listing at list_max_entries and says how to see more."""
    for n in range(30):
        (project / "data" / f"f{n:02}.txt").write_text("x", encoding="utf-8")
    with Sandbox(root=project, policy=_policy(list_max_entries=10)) as box:
        res = box.call("list_directory", {"path": ".", "recursive": 3})
    assert len(res.data) == 10
    assert res.content.endswith(
        "[the listing stops at 10 entries; list a subdirectory to see more]"
    )


# -- mistakes are not refusals ----------------------------------------------------------------
MISTAKES = [
    pytest.param(
        "read_file", {"path": "data/missing.csv"}, "not_found", "FileNotFoundError", id="missing"
    ),
    pytest.param(
        "read_file", {"path": "data"}, "is_directory", "IsADirectoryError", id="directory"
    ),
    pytest.param(
        "read_file",
        {"path": "data/numbers.csv/x"},
        "not_a_directory",
        "NotADirectoryError",
        id="file-as-directory",
    ),
    pytest.param(
        "list_directory", {"path": "nowhere"}, "not_found", "FileNotFoundError", id="list-missing"
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "rule", "kind"), MISTAKES)
def test_a_typo_is_a_mistake_with_its_own_rule(
    project: Path, tmp_path: Path, tool: str, arguments: dict[str, Any], rule: str, kind: str
) -> None:
    """It answers a missing file or a directory given for a file as an error with its own
    rule and Python's error name, and audits it as failed, not refused."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, Sandbox(root=project, policy=_policy(), audit=log) as box:
        res = box.call(tool, arguments)
    assert not res.ok
    assert res.error is not None
    assert (res.error.type, res.error.rule) == (kind, rule)
    assert res.content.startswith(f"Error: {kind}: ")
    assert "SecurityError" not in res.content
    outcome = list(read_records(log_path))[-1]
    assert (outcome["event"], outcome["decision"], outcome["rule"]) == ("failed", "allow", rule)


def test_stats_count_mistakes_apart_from_refusals(project: Path, tmp_path: Path) -> None:
    """It counts a typo under failed (with its rule) and only real refusals as refusals."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, Sandbox(root=project, policy=_policy(), audit=log) as box:
        box.call("read_file", {"path": "data/typo.csv"})
        box.call("read_file", {"path": "../../etc/passwd"})
        with pytest.raises(SecurityError):
            box.read_file("data/also-missing.csv")
    data = stats(read_records(log_path))
    assert data["by_tool"]["read_file"] == {"failed": 2, "refused": 1}
    assert data["refusals_by_rule"] == {"outside_root": 1}
    assert data["failures_by_rule"] == {"not_found": 2}
    text = format_stats(data)
    assert "refusals by policy rule:\n  outside_root: 1\n" in text
    assert "not refusals):\n  not_found: 2\n" in text


def test_direct_read_of_a_missing_file_still_raises(sandbox: Sandbox) -> None:
    """It keeps raising SecurityError (rule not_found) to host code that reads directly."""
    with pytest.raises(SecurityError) as info:
        sandbox.read_file("data/none.txt")
    assert info.value.rule == "not_found"


def test_a_symlink_swapped_in_is_not_descended(project: Path) -> None:
    """It never follows a link while descending, even one that replaced a directory."""
    (project / "data" / "sub").mkdir()
    with Sandbox(root=project, policy=_policy()) as box:
        entries, _ = box.fs.list_tree("data", depth=3, max_entries=100)
    assert [e.path for e in entries] == ["data/numbers.csv", "data/sub"]
    os.rmdir(project / "data" / "sub")
    (project / "data" / "sub").symlink_to("/")
    with Sandbox(root=project, policy=_policy()) as box:
        entries, _ = box.fs.list_tree("data", depth=3, max_entries=100)
    assert [e.path for e in entries] == ["data/numbers.csv", "data/sub"]
    assert entries[1].outside_root is True


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.sampled_from("ab\n\r\x0c\u00e9\u20ac\U0001f600 "), max_size=400),
    page_lines=st.integers(1, 20),
    page_bytes=st.integers(1024, 1100),
    limit=st.one_of(st.none(), st.integers(1, 30)),
)
def test_reading_on_walks_every_line_once(
    text: str, page_lines: int, page_bytes: int, limit: int | None
) -> None:
    """It hands out pages that, read on with next_offset until None, cover every line of the
    file once and in order (a line longer than a page by its start), each followed only by
    the bracketed note."""
    expected = re.findall(r"[^\n]*\n|[^\n]+$", text)
    offset: int | None = 0
    covered = 0
    while offset is not None:
        view = view_file(
            "f.txt",
            text.encode(),
            offset=offset,
            limit=limit,
            page_lines=page_lines,
            page_bytes=page_bytes,
        )
        assert view.data["total_lines"] == len(expected)
        lines = view.data["lines"]
        body = "".join(expected[offset : offset + lines])
        if offset == 0 and view.data["next_offset"] is None and view.content == text:
            covered = len(expected)
            break
        note = view.content.rindex("[")
        shown, footer = view.content[:note], view.content[note:]
        assert footer.endswith("]")
        if "is longer than a page" in footer:
            assert lines == 1
            assert body.startswith(shown.removesuffix("\n"))
            assert len(shown.encode()) <= page_bytes + 1
        else:
            assert shown in (body, body + "\n")
        covered += lines
        assert view.data["next_offset"] in (None, offset + lines)
        assert lines >= 1 or not expected
        offset = view.data["next_offset"]
    assert covered == len(expected)


def test_direct_list_dir_goes_recursive_and_marks_links(tree: Path) -> None:
    """It gives host code the same details: recursive levels and links leading outside."""
    with Sandbox(root=tree, policy=_policy()) as box:
        flat = {e.path: e for e in box.list_dir(".")}
        deep = [e.path for e in box.list_dir("data", recursive=2)]
    assert flat["link_out"].outside_root is True
    assert flat["link_in"].target == "data/numbers.csv"
    assert deep == [
        "data/numbers.csv",
        "data/sub",
        "data/sub/deeper",
        "data/sub/deeper/bottom.txt",
        "data/sub/mid.txt",
    ]
