"""`stockmind search --client … "red circle"` / `--image photo.jpg` / `--like KEY`: the library, directly."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stockmind.config import Settings
from stockmind.media.types import MediaType


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="search one client's media by text, image or media key")
    search.add_argument("--client", required=True, help="the client id whose media to search")
    source = search.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help="what to look for, e.g. \"red circle\"")
    source.add_argument("--image", type=Path, help="a photo to find similar media to")
    source.add_argument("--like", metavar="KEY", help="the key of stored media to find similar media to")
    search.add_argument("-k", type=int, default=10, help="how many results")
    search.add_argument("--sku", default=None, help="only this SKU")
    search.add_argument("--media-type", choices=[t.value for t in MediaType], default=None)
    search.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    search.set_defaults(run=_search)


def _search(args: argparse.Namespace) -> int:
    from stockmind.service.search import Filters, Searcher, normalised_query
    from stockmind.store import connect

    settings = Settings.from_env(require=["DATABASE_URL"])
    if not 1 <= args.k <= settings.search_max_k:
        print(f"stockmind search: -k must be between 1 and {settings.search_max_k}")
        return 2
    filters = Filters(k=args.k, sku=args.sku, media_type=MediaType(args.media_type) if args.media_type else None)
    try:
        text = None if args.image or args.like else normalised_query(args.text)
    except ValueError as error:
        print(f"stockmind search: {error}")
        return 2
    searcher = Searcher.from_settings(settings)
    with connect(settings.database_url) as conn:
        if args.image:
            results = searcher.by_image(conn, args.client, args.image.read_bytes(), filters)
        elif args.like:
            results = searcher.like_media(conn, args.client, args.like, filters)
        else:
            results = searcher.by_text(conn, args.client, text, filters)
    for rank, result in enumerate(results, 1):
        if args.json:
            print(json.dumps({"rank": rank, "key": result.key, "sku": result.sku, "media_type": str(result.media_type),
                              "score": round(result.score, 4), "timestamp_s": result.timestamp_s, "url": result.url}))
        else:
            moment = f" @ {result.timestamp_s:.1f}s" if result.timestamp_s is not None else ""
            print(f"{rank:>3}  {result.score:.3f}  {result.key}{moment}")
    if not results and not args.json:
        print("no results")
    return 0
