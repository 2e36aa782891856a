"""How both CLIs end a failed run: one line on stderr, the same shape for tap and target.

``<plugin>: error: <message>``: the message names the stream, the record key (or the
setting) and what to do, in at most :data:`MAX_MESSAGE` characters, secrets redacted (the
given ones, the proxy credentials of the environment and any ``user:password@`` of a URL).
"""

from __future__ import annotations

from collections.abc import Iterable

from enectiva.auth import redact
from enectiva.network import proxy_secrets, scrub_userinfo

#: The longest message a fatal line carries (the plugin's name and ``: error: `` aside).
MAX_MESSAGE = 200


def fatal_line(plugin: str, message: str, secrets: Iterable[str | None] = ()) -> str:
    """The one line a run that failed prints: whitespace collapsed, secrets out, bounded."""
    hidden = redact(scrub_userinfo(message), [*secrets, *proxy_secrets()])
    text = " ".join(hidden.split()) or "stopped"
    if len(text) > MAX_MESSAGE:
        # The start names the stream and record, the end what to do: the middle (the API's
        # or the transport's detail) gives way.
        keep_end = MAX_MESSAGE // 3
        head = text[: MAX_MESSAGE - keep_end - 1].rstrip()
        text = f"{head}…{text[-keep_end:].lstrip()}"
    return f"{plugin}: error: {text}"
