"""JSON:API list documents and the ``links.next`` paginator (contract section 3)."""

from __future__ import annotations

from typing import Any

import msgspec
import requests
from singer_sdk.pagination import BaseHATEOASPaginator
from typing_extensions import override

_decode = msgspec.json.Decoder().decode


class _Links(msgspec.Struct):
    """Only the ``links`` of a list document (the rest is skipped, not built)."""

    links: dict[str, Any] | None = None


_decode_links = msgspec.json.Decoder(_Links).decode


def document(response: requests.Response) -> dict[str, Any]:
    """The decoded body, decoded once per response (records and paginator share it)."""
    doc = getattr(response, "_enectiva_document", None)
    if doc is None:
        try:
            doc = _decode(response.content)
        except msgspec.DecodeError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        response._enectiva_document = doc  # type: ignore[attr-defined]
    return doc


def forget_document(response: requests.Response) -> None:
    """Drop the decoded body kept by :func:`document` (a later call decodes it again)."""
    response.__dict__.pop("_enectiva_document", None)


def next_link(response: requests.Response) -> str | None:
    """``links.next`` of a list answer; None at the end.

    Memory: a worker thread follows the links of pages that wait in the partition reader's
    queue, so it reads the links alone; the records are built when the page is written
    (a decoded page takes about six times its JSON's size).
    """
    doc = getattr(response, "_enectiva_document", None)
    if doc is not None:
        links = doc.get("links")
    else:
        try:
            links = _decode_links(response.content).links
        except msgspec.DecodeError:  # ValidationError too: not an object, links not one
            links = None
    return links.get("next") or None if isinstance(links, dict) else None


class NextLinkPaginator(BaseHATEOASPaginator):
    """Follows the absolute ``links.next`` until it is null (the token is its parsed URL).

    A short or even empty page does not end a list: the page size is the server's choice.
    """

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        return next_link(response)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return next_link(response) is not None
