"""How both CLIs end a failed run: one line on stderr, the same shape for tap and target.

``<plugin>: error: <message>``: the message names the stream, the record key (or the
setting) and what to do, in at most :data:`MAX_MESSAGE` characters, secrets redacted.
"""

from __future__ import annotations

from collections.abc import Iterable

from enectiva.auth import redact

#: The longest message a fatal line carries (the plugin's name and ``: error: `` aside).
MAX_MESSAGE = 200


def fatal_line(plugin: str, message: str, secrets: Iterable[str | None] = ()) -> str:
    """The one line a run that failed prints: whitespace collapsed, secrets out, bounded."""
    text = " ".join(redact(message, list(secrets)).split()) or "stopped"
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1].rstrip() + "…"
    return f"{plugin}: error: {text}"
