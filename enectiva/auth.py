"""Tokens: the login-token -> access-JWT exchange, renewal, and how to keep them secret.

The sandbox issues and verifies access tokens here; the tap and the target read and renew
them here, so the claims and the renewal rule live in one place.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from enectiva import contract

ALGORITHM = "HS256"
DEFAULT_LIFETIME = 300  # seconds: "about 5 minutes" [doc]
ACCESS_TOKEN_OPERATION = "createAccessToken"


def access_token_path() -> str:
    """Where login tokens are exchanged."""
    return contract.operation(ACCESS_TOKEN_OPERATION).path


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


# ---------- server side (sandbox) ----------


class TokenError(Exception):
    """An access token that is not valid: ``reason`` is ``expired`` or ``invalid``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_access_token(
    secret: str,
    *,
    subject: str,
    customer: str,
    scopes: list[str],
    lifetime: int = DEFAULT_LIFETIME,
    now: float | None = None,
) -> tuple[str, str, int]:
    """A signed JWT with ``exp`` and ``scp``; returns (token, jti, exp)."""
    issued = int(now if now is not None else time.time())
    jti = uuid.uuid4().hex
    exp = issued + lifetime
    claims = {
        "sub": subject,
        "cus": customer,
        "scp": list(scopes),
        "iat": issued,
        "exp": exp,
        "jti": jti,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), jti, exp


def verify_access_token(secret: str, token: str) -> dict[str, Any]:
    """The claims of a valid token; TokenError otherwise."""
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=0)
    except jwt.ExpiredSignatureError:
        raise TokenError("expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid") from None


# ---------- client side (tap, target) ----------


@dataclass
class AccessToken:
    """An access token as a client holds it."""

    token: str = field(repr=False)
    expires_at: float
    obtained_at: float
    scopes: tuple[str, ...] = ()

    @property
    def lifetime(self) -> float:
        return max(0.0, self.expires_at - self.obtained_at)

    def should_renew(self, now: float | None = None) -> bool:
        """Renew when less than min(30 s, half the lifetime) is left (contract section 5)."""
        now = time.time() if now is None else now
        return self.expires_at - now < min(30.0, self.lifetime / 2)


def parse_access_token_document(doc: Any, now: float | None = None) -> AccessToken:
    """Read the 201 answer of the exchange; expiry from the JWT's ``exp`` when readable."""
    try:
        token = doc["data"]["attributes"]["token"]
    except (KeyError, TypeError):
        raise ValueError("the access-token answer has no data.attributes.token") from None
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        exp = float(claims["exp"])
        scopes = tuple(claims.get("scp") or ())
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        exp, scopes = now + DEFAULT_LIFETIME / 2, ()
    return AccessToken(token=token, expires_at=exp, obtained_at=now, scopes=scopes)


def redact(text: str, secrets: list[str | None]) -> str:
    """Replace every secret occurring in ``text`` with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
