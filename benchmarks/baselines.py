"""The baselines: what a user could write by hand in a few lines with ``requests``.

``python -m benchmarks.baselines tap CONFIG``: every reading of every meter as Singer RECORD
lines on stdout (``json.dumps`` per record, the same keyset paging as the tap).
``python -m benchmarks.baselines async-tap CONFIG [IN_FLIGHT]``: the same with asyncio and
aiohttp, IN_FLIGHT meters (default 8) read at once, each meter's pages in order.
``python -m benchmarks.baselines push CONFIG INPUT``: POST each RECORD of a Singer file, one
request after the other (what the vendor's code samples do).
Both print one JSON line of counts on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests

MEDIA = "application/vnd.api+json"


def hand_tap(config: dict[str, Any]) -> dict[str, float]:
    api = config["api_url"]
    session = requests.Session()
    headers = {"Accept": MEDIA, "Authorization": f"Bearer {config['login_token']}"}
    token = session.post(f"{api}/access_tokens", headers=headers).json()
    headers["Authorization"] = f"Bearer {token['data']['attributes']['token']}"
    out = sys.stdout
    count = 0
    meters = session.get(f"{api}/meters", headers=headers).json()["data"]
    for meter in meters:
        url: str | None = f"{api}/meters/{meter['id']}/readings"
        params: dict[str, str] | None = {
            "filter[]": f"readings.time>={config['start_date']}",
            "sort": "time",
        }
        while url:
            page = session.get(url, headers=headers, params=params).json()
            params = None  # links.next carries the query
            for resource in page["data"]:
                record = {"id": resource["id"], "meter_id": meter["id"], **resource["attributes"]}
                out.write(json.dumps({"type": "RECORD", "stream": "readings", "record": record}))
                out.write("\n")
                count += 1
            url = page["links"]["next"]
    out.flush()
    return {"records": count}


def async_tap(config: dict[str, Any], in_flight: int = 8) -> dict[str, float]:
    return asyncio.run(_async_tap(config, in_flight))


async def _async_tap(config: dict[str, Any], in_flight: int) -> dict[str, float]:
    import aiohttp  # dev dependency: only this baseline needs it

    api = config["api_url"]
    out = sys.stdout
    count = 0
    headers = {"Accept": MEDIA, "Authorization": f"Bearer {config['login_token']}"}
    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(f"{api}/access_tokens", headers=headers) as answer:
            token = (await answer.json(content_type=None))["data"]["attributes"]["token"]
        headers["Authorization"] = f"Bearer {token}"

        async def pages(url: str | None, params: dict[str, str] | None) -> Any:
            while url:
                async with http.get(url, headers=headers, params=params) as answer:
                    page = await answer.json(content_type=None)
                params = None  # links.next carries the query
                yield page
                url = page["links"]["next"]

        meters: asyncio.Queue[str] = asyncio.Queue()
        async for page in pages(f"{api}/meters", None):
            for meter in page["data"]:
                meters.put_nowait(meter["id"])

        async def worker() -> None:
            nonlocal count
            while not meters.empty():
                meter = meters.get_nowait()
                url = f"{api}/meters/{meter}/readings"
                params = {"filter[]": f"readings.time>={config['start_date']}", "sort": "time"}
                async for page in pages(url, params):
                    for resource in page["data"]:
                        record = {"id": resource["id"], "meter_id": meter, **resource["attributes"]}
                        line = {"type": "RECORD", "stream": "readings", "record": record}
                        out.write(json.dumps(line))
                        out.write("\n")
                        count += 1

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    out.flush()
    return {"records": count}


def sequential_push(config: dict[str, Any], input_path: Path) -> dict[str, float]:
    url = f"{config['api_url']}/import/readings/{config['customer_id']}"
    headers = {
        "Accept": MEDIA,
        "Content-Type": MEDIA,
        "Authorization": f"Bearer {config['import_token']}",
    }
    session = requests.Session()
    counts: dict[str, float] = {"records": 0, "created": 0, "failed": 0}
    started = time.perf_counter()
    with input_path.open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            body = {"data": {"type": "readings", "attributes": message["record"]}}
            answer = session.post(url, data=json.dumps(body), headers=headers)
            counts["records"] += 1
            counts["created" if answer.status_code in (201, 409) else "failed"] += 1
    counts["seconds"] = time.perf_counter() - started
    return counts


def main(argv: list[str]) -> int:
    mode, config_path, *rest = argv
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    if mode == "tap":
        counts = hand_tap(config)
    elif mode == "async-tap":
        counts = async_tap(config, int(rest[0]) if rest else 8)
    else:
        counts = sequential_push(config, Path(rest[0]))
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
