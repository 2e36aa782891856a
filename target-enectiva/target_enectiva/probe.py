"""``meltano config test target-enectiva``: check the credentials, write nothing.

Meltano tests a loader by sending it a stream of its own, ``meltano_test_stream`` (a SCHEMA,
one RECORD ``{id, name, created_at}``, a STATE), and passes when the loader exits 0 and no
output line says "error" or "exception". That record is no Enectiva record, so instead of
loading it the target asks the API whether its credentials work, with requests that change
nothing, through the run's proxy and TLS settings:

- ``import_token``: the latest reading of an import id nobody uses
  (``GET /import/readings/{customerId}/meltano-config-test/default/latest``): 404 ``not_found``
  (or a 200) means token and customer are accepted; 401/403 or ``unknown_customer`` do not.
- ``login_token``: the access-token exchange (``POST /access_tokens``).

A refusal stops the run with the one fatal line naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import json
import typing as t

import aiohttp
from typing_extensions import override

from enectiva import auth, contract, errors, media
from enectiva.policy import Action, Answer, Attempts, Limits, Request, decide
from target_enectiva import connection
from target_enectiva.errors import TargetError, certificate_refused
from target_enectiva.settings import TargetSettings
from target_enectiva.sinks import DiscardingSink

#: The stream Meltano's loader test sends (meltano.core.plugin_test_service).
PROBE_STREAM = "meltano_test_stream"
#: The import id whose latest reading the probe asks for (none is expected to exist).
PROBE_IMPORT_ID = "meltano-config-test"
PROBE_SUIT = "default"


def is_probe(stream_name: str) -> bool:
    """Whether a stream is Meltano's configuration test."""
    return stream_name == PROBE_STREAM


class ProbeSink(DiscardingSink):
    """Meltano's test stream: the credentials are checked once (on its SCHEMA); its records
    are not loaded."""

    @override
    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        checked = probe(TargetSettings.from_config(self.config))
        self.logger.info(
            "%s is Meltano's configuration test: %s; nothing was written",
            self.stream_name,
            checked,
        )


def probe(settings: TargetSettings) -> str:
    """Check every configured token against the API; what was accepted, or a TargetError."""
    if not settings.import_token and not settings.login_token:
        raise TargetError(
            f"{PROBE_STREAM}: set import_token (readings, data points, profiles) "
            "or login_token (invoices)"
        )
    return asyncio.run(_probe(settings))


async def _probe(settings: TargetSettings) -> str:
    api_url = settings.api_url.rstrip("/")
    accepted = []
    async with connection.client_session(
        api_url,
        connector=connection.connector(
            verify_tls=settings.verify_tls, ca_bundle=settings.ca_bundle
        ),
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout),
        headers={"Accept": media.MEDIA_TYPE, "User-Agent": settings.sender},
    ) as session:
        if settings.import_token:
            latest = contract.operation("latestReading").url_path(
                customerId=settings.customer_id, importId=PROBE_IMPORT_ID, suit=PROBE_SUIT
            )
            status, body = await _send(session, settings, "GET", api_url + latest,
                                       settings.import_token)  # fmt: skip
            error = errors.parse_error(status, body)
            if status in (401, 403) or error.code == "unknown_customer":
                raise TargetError(_refused("import_token", error, status))
            if status not in (200, 404):
                raise TargetError(f"{PROBE_STREAM}: {api_url} answered {error}; check api_url")
            accepted.append("import_token")
        if settings.login_token:
            status, body = await _send(session, settings, "POST",
                                       api_url + auth.access_token_path(), settings.login_token,
                                       typed=True)  # fmt: skip
            if status in (401, 403):
                raise TargetError(_refused("login_token", errors.parse_error(status, body), status))
            try:
                auth.parse_access_token_document(_json(body))
            except ValueError:
                raise TargetError(
                    f"{PROBE_STREAM}: the access token exchange at {api_url} answered "
                    f"{errors.parse_error(status, body)}; check api_url"
                ) from None
            accepted.append("login_token")
    return f"{' and '.join(accepted)} accepted by {api_url}"


def _refused(setting: str, error: errors.ApiError, status: int) -> str:
    if error.code == "unknown_customer":
        return f"{PROBE_STREAM}: customer_id is unknown to the API ({error}); check customer_id"
    what = "customer_id and " if status == 403 else ""
    return f"{PROBE_STREAM}: {setting} was refused ({error}); check {what}{setting}"


async def _send(
    session: aiohttp.ClientSession,
    settings: TargetSettings,
    method: str,
    url: str,
    token: str,
    *,
    typed: bool = False,
) -> tuple[int, bytes]:
    """One request, retried as :mod:`enectiva.policy` decides (429, 5xx, transport)."""
    headers = auth.bearer(token)
    if typed:
        headers["Content-Type"] = media.MEDIA_TYPE
    request = Request("login" if typed else "import", method)
    limits = Limits(max_retries=settings.max_retries)
    attempts = Attempts()
    while True:
        try:
            async with session.request(method, url, headers=headers) as response:
                body = await response.read()
                status = response.status
                answer = Answer(status, errors.parse_error(status, body).code, "",
                                response.headers)  # fmt: skip
        except aiohttp.ClientConnectorCertificateError as exc:
            raise TargetError(f"{PROBE_STREAM}: {certificate_refused(exc)}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            status, body = 0, b""
            answer = Answer(0, None, connection.describe(exc))
        decision = decide(request, answer, attempts, limits)
        if decision.action is not Action.RETRY:
            if status == 0:
                raise TargetError(
                    f"{PROBE_STREAM}: cannot reach api_url {settings.api_url} after "
                    f"{settings.max_retries} retries ({answer.detail})"
                )
            return status, body
        attempts.count(status)
        await asyncio.sleep(decision.delay)


def _json(body: bytes) -> t.Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
