"""`stockmind keys create|list|revoke|limit`: API keys for the search service, per client, and their rate limits."""

from __future__ import annotations

import argparse
import math

from stockmind.config import Settings

_RATE_HELP = "requests per second this key may keep up (default: STOCKMIND_RATE_LIMIT_PER_S)"
_BURST_HELP = "requests this key may send at once (default: STOCKMIND_RATE_LIMIT_BURST)"


def register(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="API keys of the search service")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="mint a key for a client (the key is shown once)")
    create.add_argument("--client", required=True, help="the client id the key searches as")
    create.add_argument("--label", default="", help="a note to recognise the key by in listings")
    create.add_argument("--rate", type=_rate, default=None, help=_RATE_HELP)
    create.add_argument("--burst", type=_burst, default=None, help=_BURST_HELP)
    create.set_defaults(run=_create)

    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--client", default=None, help="only this client's keys")
    listing.set_defaults(run=_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id (the part after smk_)")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)

    limit = actions.add_parser("limit", help="set a key's own rate limit; a value left out is the service's default")
    limit.add_argument("key_id")
    limit.add_argument("--rate", type=_rate, default=None, help=_RATE_HELP)
    limit.add_argument("--burst", type=_burst, default=None, help=_BURST_HELP)
    limit.add_argument("--default", action="store_true", help="back to the service's defaults for both")
    limit.set_defaults(run=_limit)


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < rate < math.inf:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive number of requests per second")
    return rate


def _burst(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of requests, at least 1")
    return int(value)


def _connection():
    from stockmind.store import connect, is_migrated

    conn = connect(Settings.from_env(require=["DATABASE_URL"]).database_url)
    if not is_migrated(conn):  # the api_keys table is one of the store's migrations
        conn.close()
        raise SystemExit("stockmind keys: the database is not migrated: run `stockmind db migrate` first")
    return conn


def _create(args: argparse.Namespace) -> int:
    from stockmind.service import api_keys

    with _connection() as conn:
        try:
            minted = api_keys.create_key(conn, args.client, args.label, args.rate, args.burst)
        except ValueError as error:
            print(f"stockmind keys: {error}")
            return 2
    print(f"key id: {minted.key.key_id}  client: {minted.key.client_id}")
    print("API key (shown once, store it now):")
    print(minted.token)
    return 0


def _list(args: argparse.Namespace) -> int:
    from stockmind.service import api_keys

    with _connection() as conn:
        listed = api_keys.list_keys(conn, args.client)
    print(f"{'KEY ID':<14}{'CLIENT':<24}{'CREATED':<22}{'STATUS':<28}{'RATE/S':<10}{'BURST':<8}LABEL")
    for key in listed:
        status = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S}"
        rate = "default" if key.rate_per_s is None else f"{key.rate_per_s:g}"
        burst = "default" if key.burst is None else str(key.burst)
        print(f"{key.key_id:<14}{key.client_id:<24}{key.created_at:%Y-%m-%d %H:%M:%S}   {status:<28}"
              f"{rate:<10}{burst:<8}{key.label}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from stockmind.service import api_keys

    with _connection() as conn:
        found = api_keys.revoke_key(conn, args.key_id)
    print(f"revoked {args.key_id}" if found else f"no key {args.key_id}")
    return 0 if found else 1


def _limit(args: argparse.Namespace) -> int:
    from stockmind.service import api_keys

    if args.default == (args.rate is not None or args.burst is not None):
        print("stockmind keys limit: give --rate and/or --burst, or --default")
        return 2
    with _connection() as conn:
        key = api_keys.set_limit(conn, args.key_id, args.rate, args.burst)
    if key is None:
        print(f"no key {args.key_id}")
        return 1
    rate = "default" if key.rate_per_s is None else f"{key.rate_per_s:g}/s"
    burst = "default" if key.burst is None else str(key.burst)
    print(f"key {key.key_id}: rate {rate}, burst {burst} (each replica's counter starts afresh)")
    return 0
