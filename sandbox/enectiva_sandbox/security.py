"""Who is calling: the three token kinds, scopes, customers, and rate-limit keys."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt

from enectiva import auth, contract
from enectiva.errors import UNKNOWN_CUSTOMER
from enectiva_sandbox.jsonapi import Problem
from enectiva_sandbox.store import Store

#: Every scope an access token can carry (contract section 1).
ALL_SCOPES = (
    "meters",
    "entities",
    "entity_deltas",
    "received_invoices",
    "readings",
    "meter_deltas",
    "virtual_meter_deltas",
    "data_series",
)
_CLAIMS_CACHE_LIMIT = 10_000


def subject_of(login_token: str) -> str:
    """A JWT subject naming a login token without revealing it."""
    return "login:" + hashlib.sha256(login_token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Caller:
    customer_id: str
    credential: str  # what the rate limit counts: the import token or the login token's subject


class Authenticator:
    """Checks the ``Authorization`` header of a request against the operation's token kind."""

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret
        self.import_tokens = store.customers_by_import_token()
        self.login_tokens = store.login_tokens()
        self.customers = set(self.import_tokens.values())
        self._claims: dict[str, dict[str, Any]] = {}
        self._import_callers: dict[str, Caller] = {}  # token -> caller, for valid ones only

    # ---------- rate-limit key (before authentication) ----------

    def credential_key(self, header: str | None) -> str:
        token = bearer_token(header)
        if token is None:
            return "anonymous"
        claims = self._claims.get(token)
        if claims is None and token.count(".") == 2:
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                claims = None
        if isinstance(claims, dict) and isinstance(claims.get("sub"), str):
            return claims["sub"]
        if token in self.login_tokens:
            return subject_of(token)
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    # ---------- access tokens ----------

    def issue(self, login_token: str, lifetime: int) -> dict[str, Any]:
        customer_id, scopes, _label = self.login_tokens[login_token]
        token, jti, exp = auth.issue_access_token(
            self.secret,
            subject=subject_of(login_token),
            customer=customer_id,
            scopes=list(scopes),
            lifetime=lifetime,
        )
        return {"token": token, "jti": jti, "exp": exp}

    def _claims_of(self, token: str) -> dict[str, Any]:
        claims = self._claims.get(token)
        if claims is None:
            try:
                claims = auth.verify_access_token(self.secret, token)
            except auth.TokenError as exc:
                if exc.reason == "expired":
                    raise Problem(401, "the access token has expired: obtain a new one") from None
                raise Problem(401, self._wrong_kind(token, "an access token")) from None
            if len(self._claims) >= _CLAIMS_CACHE_LIMIT:
                self._claims.clear()
            self._claims[token] = claims
        if claims["exp"] <= time.time():
            raise Problem(401, "the access token has expired: obtain a new one")
        return claims

    def _wrong_kind(self, token: str, wanted: str) -> str:
        if token in self.login_tokens:
            return f"a login token is not {wanted}: exchange it at POST /access_tokens"
        if token in self.import_tokens:
            return f"an import token is not {wanted}"
        return f"the bearer token is not {wanted} (unknown or invalid)"

    def _import_caller(self, token: str, owner: str) -> Caller:
        caller = self._import_callers.get(token)
        if caller is None:
            credential = "import:" + hashlib.sha256(token.encode()).hexdigest()[:16]
            caller = self._import_callers[token] = Caller(owner, credential)
        return caller

    # ---------- the check ----------

    def check(self, op: contract.Operation, header: str | None, params: dict[str, str]) -> Caller:
        """The caller, or a Problem: 401 (token), 403 (scope, customer), 404 unknown customer."""
        token = bearer_token(header)
        if token is None:
            raise Problem(401, "missing Authorization: Bearer <token> header")
        if op.token == "login":
            if token in self.login_tokens:
                return Caller(self.login_tokens[token][0], subject_of(token))
            if token in self.import_tokens:
                raise Problem(403, "an import token cannot obtain access tokens")
            raise Problem(401, self._wrong_kind(token, "a login token"))
        if op.token == "import":
            owner = self.import_tokens.get(token)
            if owner is None:
                raise Problem(401, self._wrong_kind(token, "an import token"))
            wanted = params.get("customerId", owner)
            if wanted != owner:
                if wanted not in self.customers:
                    raise Problem(404, f"customer {wanted} not found", code=UNKNOWN_CUSTOMER)
                raise Problem(403, "the import token belongs to another customer")
            return self._import_caller(token, owner)
        claims = self._claims_of(token)
        if op.scope and op.scope not in claims.get("scp", ()):
            raise Problem(403, f"the access token lacks the scope {op.scope!r}")
        return Caller(claims["cus"], claims["sub"])


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
