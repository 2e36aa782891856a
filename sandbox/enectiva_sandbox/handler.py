"""The handler contract: what an operation's handler gets (``Context``) and gives (``Reply``).

Every documented operation has one handler ``(server, ctx) -> Reply``; the pipeline in
``app.py`` has already checked rate limit, media types and the token when it calls it. A
handler refuses with ``jsonapi.Problem`` and writes only through ``Store`` methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enectiva import contract

if TYPE_CHECKING:
    from enectiva_sandbox.app import Server

#: A handler's answer: status and JSON:API document (None: no body, e.g. 204).
Reply = tuple[int, dict[str, Any] | None]


@dataclass
class Context:
    """What a handler needs of its request."""

    op: contract.Operation
    params: dict[str, str]
    customer_id: str
    token: str
    base: str  # absolute URL of the path, no query
    query_string: str
    body: bytes


Handler = Callable[["Server", Context], Reply]
