"""How both CLIs end a failed run: one line on stderr, the same shape for tap and target.

``<plugin>: error: <message>``: the message names the stream, the record key (or the
setting) and what to do, in at most :data:`MAX_MESSAGE` characters, secrets redacted (the
given ones, the proxy credentials of the environment and any ``user:password@`` of a URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from enectiva.auth import redact
from enectiva.network import proxy_secrets, scrub_userinfo

#: The longest message a fatal line carries (the plugin's name and ``: error: `` aside).
MAX_MESSAGE = 200
#: A parenthesised detail holding no other parentheses (but details already shortened).
_INNERMOST = re.compile(r"\(((?:[^()]|\(…\))*)\)")


def fatal_line(plugin: str, message: str, secrets: Iterable[str | None] = ()) -> str:
    """The one line a run that failed prints: whitespace collapsed, secrets out, bounded."""
    hidden = redact(scrub_userinfo(message), [*secrets, *proxy_secrets()])
    text = " ".join(hidden.split()) or "stopped"
    return f"{plugin}: error: {shorten(text)}"


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` within ``limit`` characters, keeping what names the record and what to do.

    Messages read ``where: what (detail); what to do``: details in parentheses give way
    first, innermost and leftmost first (``(…)``); if that is not enough, the middle goes.
    """
    while len(text) > limit:
        groups = [m for m in _INNERMOST.finditer(text) if m.group(1) != "…"]
        if not groups:
            keep_end = limit // 3
            head = text[: limit - keep_end - 1].rstrip()
            return f"{head}…{text[-keep_end:].lstrip()}"
        first = groups[0]  # details come before what to do: the leftmost gives way first
        text = f"{text[: first.start()]}(…){text[first.end() :]}"
    return text
