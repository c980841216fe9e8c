"""The error part of a run's payload, the same for both languages' executors."""

from __future__ import annotations

from typing import Any

from ai_sandbox.executor.inputs import replace_lone_surrogates

__all__ = ["MAX_MESSAGE", "error_payload", "message_of"]

#: Longest error message a payload carries (a model reads it; the rest is cut).
MAX_MESSAGE = 2000


def message_of(exc: BaseException) -> str:
    """``str(exc)``, bounded, and never an exception of its own."""
    try:
        text = str(exc)
    except BaseException:  # a message that cannot even be printed
        text = f"<unprintable {type(exc).__name__}>"
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "... [truncated]"
    return text


def error_payload(
    status: str, type_name: str, message: str, line: int | None = None, rule: str | None = None
) -> dict[str, Any]:
    """A payload for a run that ended with an error (``status`` says which kind)."""
    # Lone surrogates (e.g. raise ValueError(chr(0xd800))) are not UTF-8: the text is for
    # humans, so they become U+FFFD rather than break the result's serialisation.
    type_name, message = replace_lone_surrogates(type_name), replace_lone_surrogates(message)
    return {
        "status": status,
        "result": None,
        "error": {"type": type_name, "message": message, "line": line, "rule": rule},
    }
