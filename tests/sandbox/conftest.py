"""An HTTP client for the sandbox tests, speaking the contract's headers and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from enectiva import contract
from enectiva.auth import access_token_path, bearer
from enectiva.media import JSON_HEADERS
from tests.support.sandbox import Sandbox


class Api:
    """Calls a sandbox with the JSON:API headers and a token."""

    def __init__(self, sb: Sandbox, token: str | None = None) -> None:
        self.sb = sb
        self.token = token
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = dict(JSON_HEADERS)
        token = token or self.token
        if token:
            all_headers.update(bearer(token))
        all_headers.update(headers or {})
        url = path if path.startswith("http") else self.sb.url + path
        return self.session.request(method, url, headers=all_headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        data = None if body is None else (body if isinstance(body, str | bytes) else _dumps(body))
        return self.request("POST", path, data=data, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def access_token(self, login_token: str | None = None) -> str:
        answer = self.post(access_token_path(), token=login_token or self.sb.creds["login_token"])
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]["attributes"]["token"]

    def reader(self, login_token: str | None = None) -> Api:
        """A client holding a fresh access token."""
        return Api(self.sb, self.access_token(login_token))

    def importer(self) -> Api:
        return Api(self.sb, self.sb.creds["import_token"])


def _dumps(body: Any) -> str:
    import json

    return json.dumps(body)


def path(operation_id: str, **params: Any) -> str:
    return contract.operation(operation_id).url_path(**params)


def doc(kind: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": kind, "attributes": attributes}}


def error(answer: requests.Response) -> dict[str, Any]:
    """The first error object of an answer."""
    return answer.json()["errors"][0]


def valid(answer: requests.Response, operation_id: str) -> Any:
    """The body, checked against the schema documented for its status."""
    name = contract.response_schema_name(operation_id, answer.status_code)
    body = answer.json()
    if name:
        contract.validator(name).validate(body)
    return body


@pytest.fixture(scope="module")
def shared(sandbox: Sandbox) -> Sandbox:
    """The shared demo sandbox: read-only use in these tests (others read it too)."""
    return sandbox


@pytest.fixture(scope="module")
def reader(shared: Sandbox) -> Api:
    return Api(shared).reader()


@pytest.fixture(scope="module")
def writable() -> Iterator[Sandbox]:
    """A private demo sandbox this module may write to (stopped after the module)."""
    with Sandbox(seed="demo", page_size=50) as sb:
        yield sb
