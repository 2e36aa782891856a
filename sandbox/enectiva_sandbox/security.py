"""Who is calling: the three token kinds, validity windows, scopes, customers, rate-limit keys.

A customer holds two import tokens and two login tokens, each valid in its own window
(contract section 8). Outside its window, or once revoked, a token is answered 401 like an
unknown token, and so is every access token obtained with a login token in that state.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt

from enectiva import auth, contract
from enectiva.errors import UNKNOWN_CUSTOMER
from enectiva.times import format_timestamp
from enectiva_sandbox.handler import Context, Handler, Reply
from enectiva_sandbox.jsonapi import Problem
from enectiva_sandbox.store import Credential, Store

if TYPE_CHECKING:
    from enectiva_sandbox.app import Server

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
#: How a 401 names each token kind.
_KIND_NAMES = {"import": "an import token", "login": "a login token", "access": "an access token"}


def subject_of(login_token: str) -> str:
    """A JWT subject naming a login token without revealing it."""
    return "login:" + hashlib.sha256(login_token.encode()).hexdigest()[:16]


def _import_key(token: str) -> str:
    return "import:" + hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Caller:
    customer_id: str
    credential: str  # what the rate limit counts: the import token or the login token's subject


class Authenticator:
    """Checks the ``Authorization`` header of a request against the operation's token kind.

    Token records come from ``Store.credentials()`` (cached there, renewed when a token
    changes); the indexes built from them here are rebuilt when that mapping is replaced.
    """

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret
        self.customers = store.customer_ids()
        self._claims: dict[str, dict[str, Any]] = {}
        self._indexed: dict[str, Credential] | None = None
        self._by_subject: dict[str, Credential] = {}
        self._keys: dict[str, str] = {}  # token -> rate-limit key, for stored tokens
        self._names: dict[str, str] = {}  # rate-limit key -> "name@customer" (statistics)

    def _tokens(self) -> dict[str, Credential]:
        tokens = self.store.credentials()
        if tokens is not self._indexed:
            self._indexed = tokens
            self._by_subject = {subject_of(t): c for t, c in tokens.items() if c.kind == "login"}
            self._keys = {
                t: subject_of(t) if c.kind == "login" else _import_key(t) for t, c in tokens.items()
            }
            self._names = {self._keys[t]: f"{c.name}@{c.customer_id}" for t, c in tokens.items()}
        return tokens

    def _valid(self, token: str, kind: str) -> Credential | None:
        """The token's credential when it is of ``kind`` and valid now."""
        credential = self._tokens().get(token)
        if credential is None or credential.kind != kind or not credential.valid_at(time.time()):
            return None
        return credential

    # ---------- rate-limit key (before authentication) ----------

    def credential_key(self, header: str | None) -> str:
        """What the rate limit counts for a request: one bucket per token."""
        token = bearer_token(header)
        if token is None:
            return "anonymous"
        self._tokens()  # renews the keys when a token changed
        key = self._keys.get(token)
        if key is not None:
            return key
        claims = self._claims.get(token)
        if claims is None and token.count(".") == 2:
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                claims = None
        if isinstance(claims, dict) and isinstance(claims.get("sub"), str):
            return str(claims["sub"])
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def credential_name(self, key: str) -> str:
        """A rate-limit key as the statistics name it: ``import_primary@<customer id>`` (a
        login token's bucket includes its access tokens), else the key itself."""
        self._tokens()
        return self._names.get(key, key)

    # ---------- access tokens ----------

    def issue(self, login_token: str, lifetime: int) -> dict[str, Any]:
        credential = self._tokens()[login_token]
        token, jti, exp = auth.issue_access_token(
            self.secret,
            subject=subject_of(login_token),
            customer=credential.customer_id,
            scopes=list(credential.scopes),
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
                raise Problem(401, self._wrong_kind(token, "access")) from None
            if len(self._claims) >= _CLAIMS_CACHE_LIMIT:
                self._claims.clear()
            self._claims[token] = claims
        if claims["exp"] <= time.time():
            raise Problem(401, "the access token has expired: obtain a new one")
        self._tokens()  # renews the subjects when a token changed
        login = self._by_subject.get(claims["sub"])
        if login is None or not login.valid_at(time.time()):
            # its login token is outside its window or revoked: like an unknown token
            raise Problem(401, _unknown("access"))
        return claims

    def _kind_of(self, token: str) -> str | None:
        """The kind of a token that is valid now (an access token: signed by us)."""
        credential = self._tokens().get(token)
        if credential is not None:
            return credential.kind if credential.valid_at(time.time()) else None
        if token in self._claims:
            return "access"
        try:
            auth.verify_access_token(self.secret, token)
        except auth.TokenError as exc:
            return "access" if exc.reason == "expired" else None
        return "access"

    def _wrong_kind(self, token: str, wanted: str) -> str:
        """The 401 detail for a token that is not of the kind ``wanted``, naming that kind."""
        kind = self._kind_of(token)
        if kind is None or kind == wanted:
            return _unknown(wanted)
        given, needed = _KIND_NAMES[kind], _KIND_NAMES[wanted]
        if kind == "login" and wanted == "access":
            return f"{given} is not {needed}: exchange it at POST /access_tokens"
        return f"{given} is not {needed}: this endpoint needs {needed}"

    # ---------- the check ----------

    def check(self, op: contract.Operation, header: str | None, params: dict[str, str]) -> Caller:
        """The caller, or a Problem: 401 (token), 403 (scope, customer), 404 unknown customer."""
        token = bearer_token(header)
        if token is None:
            raise Problem(401, "missing Authorization: Bearer <token> header")
        if op.token == "login":
            login = self._valid(token, "login")
            if login is not None:
                return Caller(login.customer_id, self._keys[token])
            if self._valid(token, "import") is not None:
                raise Problem(403, "an import token cannot obtain access tokens")
            raise Problem(401, self._wrong_kind(token, "login"))
        if op.token == "import":
            imported = self._valid(token, "import")
            if imported is None:
                raise Problem(401, self._wrong_kind(token, "import"))
            owner = imported.customer_id
            wanted = params.get("customerId", owner)
            if wanted != owner:
                if wanted not in self.customers:
                    raise Problem(404, f"customer {wanted} not found", code=UNKNOWN_CUSTOMER)
                raise Problem(403, "the import token belongs to another customer")
            return Caller(owner, self._keys[token])
        claims = self._claims_of(token)
        if op.scope and op.scope not in claims.get("scp", ()):
            raise Problem(403, f"the access token lacks the scope {op.scope!r}")
        return Caller(claims["cus"], claims["sub"])


def _unknown(wanted: str) -> str:
    return f"the bearer token is not {_KIND_NAMES[wanted]} (unknown or invalid)"


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def create_access_token(server: Server, ctx: Context) -> Reply:
    """``POST /access_tokens``: a JWT for the login token (no body)."""
    if ctx.body.strip():
        raise Problem(400, "POST /access_tokens takes no body", pointer="")
    issued = server.auth.issue(ctx.token, server.faults.token_lifetime)
    expires = format_timestamp(datetime.fromtimestamp(issued["exp"], UTC))
    return 201, {
        "data": {
            "type": "access_tokens",
            "id": issued["jti"],
            "attributes": {"token": issued["token"], "expires_at": expires},
        }
    }


HANDLERS: dict[str, Handler] = {"createAccessToken": create_access_token}
