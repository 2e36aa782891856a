"""The JSON:API media type and the header rules of contract sections 1 and 5."""

from __future__ import annotations

MEDIA_TYPE = "application/vnd.api+json"
JSON_HEADERS = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}


def accept_ok(accept: str | None) -> bool:
    """``Accept`` must list the JSON:API type (``*/*`` alone is not enough)."""
    if not accept:
        return False
    return any(part.split(";", 1)[0].strip().lower() == MEDIA_TYPE for part in accept.split(","))


def content_type_ok(content_type: str | None) -> bool:
    """A body's type is the bare JSON:API type, optionally with ``charset=utf-8``."""
    if not content_type:
        return False
    parts = [p.strip() for p in content_type.split(";")]
    if parts[0].lower() != MEDIA_TYPE:
        return False
    for param in parts[1:]:
        if not param:
            continue
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            return False
    return True
