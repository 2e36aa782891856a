"""JSON:API list documents and the ``links.next`` paginator (contract section 3)."""

from __future__ import annotations

from typing import Any

import msgspec
import requests
from singer_sdk.pagination import BaseHATEOASPaginator
from typing_extensions import override


class _Links(msgspec.Struct):
    """Only the ``links`` of a list document (the rest is skipped, not built)."""

    links: Any = None


class _Data(msgspec.Struct):
    """Only the ``data`` of a list document."""

    data: Any = None


_decode_links = msgspec.json.Decoder(_Links).decode
_decode_data = msgspec.json.Decoder(_Data).decode


def list_rows(response: requests.Response) -> list[Any]:
    """The ``data`` of a list answer (empty when the body is not a list document)."""
    try:
        data = _decode_data(response.content).data
    except msgspec.DecodeError:  # ValidationError too: not a JSON object
        return []
    return data if isinstance(data, list) else []


def next_link(response: requests.Response) -> str | None:
    """``links.next`` of a list answer; None at the end.

    Memory: a worker thread follows the links of pages that wait in the partition reader's
    queue, so it reads the links alone; the records are built when the page is written
    (a decoded page takes about six times its JSON's size).
    """
    try:
        links = _decode_links(response.content).links
    except msgspec.DecodeError:  # ValidationError too: not a JSON object
        return None
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
