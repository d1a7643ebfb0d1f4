"""`stockmind keys create|list|revoke`: API keys for the search service, per client."""

from __future__ import annotations

import argparse

from stockmind.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="API keys of the search service")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="mint a key for a client (the key is shown once)")
    create.add_argument("--client", required=True, help="the client id the key searches as")
    create.add_argument("--label", default="", help="a note to recognise the key by in listings")
    create.set_defaults(run=_create)

    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--client", default=None, help="only this client's keys")
    listing.set_defaults(run=_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id (the part after smk_)")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)


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
            minted = api_keys.create_key(conn, args.client, args.label)
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
    print(f"{'KEY ID':<14}{'CLIENT':<24}{'CREATED':<22}{'STATUS':<28}LABEL")
    for key in listed:
        status = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S}"
        print(f"{key.key_id:<14}{key.client_id:<24}{key.created_at:%Y-%m-%d %H:%M:%S}   {status:<28}{key.label}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from stockmind.service import api_keys

    with _connection() as conn:
        found = api_keys.revoke_key(conn, args.key_id)
    print(f"revoked {args.key_id}" if found else f"no key {args.key_id}")
    return 0 if found else 1
