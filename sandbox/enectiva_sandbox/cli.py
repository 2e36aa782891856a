"""``enectiva-sandbox serve``: run the sandbox API on a local port."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from enectiva_sandbox.faults import Faults
from enectiva_sandbox.seed import SEEDS, SeedSize, credentials, seed
from enectiva_sandbox.store import MEMORY, OutdatedDataError, Store

SECRET_KEYS = (
    "import_token",
    "import_token_secondary",
    "login_token",
    "login_token_secondary",
    "login_token_limited",
    "other_import_token",
)
#: Token names of each customer (``--expired-token``, ``/_sandbox/tokens/{name}/...``).
TOKEN_NAMES = (
    "import_primary",
    "import_secondary",
    "login_primary",
    "login_secondary",
    "login_limited",
)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="enectiva-sandbox", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the sandbox API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    s.add_argument("--data", default="sandbox.db", help="SQLite file, or :memory:")
    s.add_argument("--seed", choices=SEEDS, default="demo", help="content of a new database")
    s.add_argument("--seed-size", type=SeedSize.parse, help="METERSxDAYSxINTERVAL_SECONDS")
    s.add_argument("--page-size", type=int, default=1000, help="records per list page (1-1000)")
    s.add_argument("--token-lifetime", type=int, default=300, help="access token seconds")
    s.add_argument("--latency-ms", type=float, default=0.0, help="delay added to each request")
    s.add_argument("--rate-limit", type=_positive, help="requests/s per token (bucket)")
    s.add_argument(
        "--no-budget-headers",
        action="store_true",
        help="leave X-RateLimit-* out of answers (sent by default while a rate limit is set)",
    )
    s.add_argument(
        "--expired-token",
        action="append",
        default=[],
        choices=TOKEN_NAMES,
        metavar="NAME",
        help=f"start with this token of the main customer expired (repeatable): "
        f"{', '.join(TOKEN_NAMES)}",
    )
    s.add_argument("--fail-rate", type=_fraction, default=0.0, help="share answered 5xx")
    s.add_argument("--drop-rate", type=_fraction, default=0.0, help="share of dropped requests")
    s.add_argument("--validate-responses", action="store_true", help="check answers vs schema")
    s.add_argument("--credentials-file", type=Path, help="write tokens and ids here (JSON)")
    s.add_argument("--ssl-certfile", help="serve HTTPS with this PEM certificate (chain)")
    s.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 1 <= args.page_size <= 1000:
        print("enectiva-sandbox: --page-size must be between 1 and 1000", file=sys.stderr)
        return 2
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("enectiva-sandbox: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    return serve(args)


def open_store(data: str, seed_name: str, size: SeedSize | None) -> Store:
    """Open (and seed, when new) the database."""
    started = time.monotonic()
    store = Store(data)
    if store.new:
        seed(store, seed_name, size)
        store.checkpoint()
        took = time.monotonic() - started
        print(f"enectiva-sandbox seeded {seed_name!r} into {data} in {took:.1f} s", flush=True)
    elif store.get_meta("seed") != seed_name:
        print(
            f"enectiva-sandbox: {data} holds seed {store.get_meta('seed')!r}; "
            f"--seed {seed_name} ignored (data kept)",
            flush=True,
        )
    return store


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from enectiva_sandbox.app import Server, build_app

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    try:
        store = open_store(args.data if args.data == MEMORY else str(Path(args.data)), args.seed,
                           args.seed_size)  # fmt: skip
    except OutdatedDataError as exc:
        print(f"enectiva-sandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    faults = Faults(
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fail_rate=args.fail_rate,
        drop_rate=args.drop_rate,
        token_lifetime=args.token_lifetime,
        budget_headers=not args.no_budget_headers,
    )
    main_customer = store.get_meta("main_customer") or ""
    for name in args.expired_token:  # its window ends now (kept in the data file)
        current = store.credential_named(main_customer, name)
        if current is not None:
            store.set_token_window(main_customer, name, current.not_before, int(time.time()))
    server = Server(
        store,
        secret=store.get_meta("jwt_secret") or "",
        page_size=args.page_size,
        faults=faults,
        validate_responses=args.validate_responses,
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    api_url = f"{'https' if args.ssl_certfile else 'http'}://{host}:{port}"
    info = credentials(store, api_url)
    if args.credentials_file:
        _write_json(args.credentials_file, info)
    _print_info(info, args)
    config = uvicorn.Config(
        build_app(server),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level=args.log_level,
        timeout_keep_alive=30,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
    return 0


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _print_info(info: dict[str, Any], args: argparse.Namespace) -> None:
    lines = [
        f"enectiva-sandbox listening on {info['api_url']}",
        f"  seed {info['seed']}, data {args.data}, page size {args.page_size}",
        f"  customer_id          {info['customer_id']}",
    ]
    for key in SECRET_KEYS:
        lines.append(f"  {key:<20} {info[key]}")
    lines += [
        f"  other_customer_id    {info['other_customer_id']}",
        f"  meter_ids            {', '.join(info['meter_ids']) or '-'}",
        f"  entity_ids           {', '.join(info['entity_ids']) or '-'}",
        f"  data_series_ids      {', '.join(info['data_series_ids']) or '-'}",
        f"  virtual_meter_ids    {', '.join(info['virtual_meter_ids']) or '-'}",
        "  admin API            /_sandbox/health, /_sandbox/faults, /_sandbox/stats, "
        "/_sandbox/records/{kind}, /_sandbox/tokens[/{name}/expire|revoke|window]",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
