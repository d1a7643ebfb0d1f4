"""`stockmind search --client … "red circle"` / `--image photo.jpg` / `--like KEY [--like KEY] [--unlike KEY]`,
with `--group sku`, `--min-score` and `--page N`: the library, directly."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from stockmind.config import Settings
from stockmind.media.types import MediaType
from stockmind.service.query import DEFAULT_PER_GROUP
from stockmind.store.ranking import MAX_PER_GROUP


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="search one client's media by text, image or media keys")
    search.add_argument("--client", required=True, help="the client id whose media to search")
    search.add_argument("text", nargs="?", help="what to look for, e.g. \"red circle\"")
    search.add_argument("--image", type=Path, help="a photo to find similar media to")
    search.add_argument("--like", metavar="KEY", action="append", default=[],
                        help="the key of stored media to find similar media to (repeatable)")
    search.add_argument("--unlike", metavar="KEY", action="append", default=[],
                        help="the key of stored media the results should not look like (repeatable)")
    search.add_argument("-k", type=int, default=10, help="how many results (products, with --group sku) per page")
    search.add_argument("--group", choices=["sku"], default=None, help="one result per product")
    search.add_argument("--per-group", type=int, default=DEFAULT_PER_GROUP, help="media per product (--group sku)")
    search.add_argument("--min-score", type=float, default=None, help="nothing below this cosine similarity")
    search.add_argument("--page", type=int, default=1, help="which page of k results (1 = the first)")
    search.add_argument("--sku", action="append", default=None, help="only this SKU (repeatable)")
    search.add_argument("--media-type", choices=[t.value for t in MediaType], default=None)
    search.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    search.set_defaults(run=_search)


def _search(args: argparse.Namespace) -> int:
    from stockmind.service.search import PAGING_DEPTH, Searcher, SearchQuery, normalised_query
    from stockmind.store import active_model, connect

    settings = Settings.from_env(require=["DATABASE_URL"])
    problem = _problem(args, settings.search_max_k, PAGING_DEPTH)
    if problem:
        print(f"stockmind search: {problem}")
        return 2
    try:
        text = None if args.text is None else normalised_query(args.text)
    except ValueError as error:
        print(f"stockmind search: {error}")
        return 2
    query = SearchQuery(text=text, image=args.image.read_bytes() if args.image else None,
                        image_key=None, positive=tuple(args.like), negative=tuple(args.unlike), k=args.k,
                        group=args.group, per_group=args.per_group, min_score=args.min_score,
                        skus=tuple(args.sku) if args.sku else None,
                        media_type=MediaType(args.media_type) if args.media_type else None)
    with connect(settings.database_url) as conn:
        # The client's own model as the searcher's default: the one model this command loads.
        model = active_model(conn, args.client) or settings.model
        searcher = Searcher.from_settings(dataclasses.replace(settings, model=model))
        page = searcher.search(conn, args.client, query)
        for _ in range(args.page - 1):  # pages are reached by their cursors, as over HTTP
            if page.next_cursor is None:
                page = None
                break
            page = searcher.search(conn, args.client, _with_cursor(query, page.next_cursor))
    _print(page, args.json, args.k * (args.page - 1))
    return 0


def _problem(args: argparse.Namespace, max_k: int, max_depth: int) -> str | None:
    if args.text is None and args.image is None and not args.like:
        return "give a text, --image or at least one --like KEY"
    if not 1 <= args.k <= max_k:
        return f"-k must be between 1 and {max_k}"
    if not 1 <= args.per_group <= MAX_PER_GROUP:
        return f"--per-group must be between 1 and {MAX_PER_GROUP}"
    if args.min_score is not None and not -1 <= args.min_score <= 1:
        return "--min-score must be between -1 and 1"
    if not 1 <= args.page or args.k * (args.page - 1) >= max_depth:
        return f"--page must be at least 1, and pages go {max_depth} results deep"
    return None


def _with_cursor(query, cursor: str):
    return dataclasses.replace(query, cursor=cursor)


def _print(page, as_json: bool, before: int) -> None:
    grouped = page is not None and page.products is not None
    items = [] if page is None else (page.products if grouped else page.results)
    for rank, item in enumerate(items, before + 1):
        if as_json:
            line = ({"rank": rank, "sku": item.sku, "score": round(item.score, 4),
                     "media": [_json(result) for result in item.media]} if grouped else {"rank": rank, **_json(item)})
            print(json.dumps(line))
        elif grouped:
            print(f"{rank:>3}  {item.score:.3f}  {item.sku}")
            for result in item.media:
                print(f"       {result.score:.3f}  {_where(result)}")
        else:
            print(f"{rank:>3}  {item.score:.3f}  {_where(item)}")
    if not items and not as_json:
        print("no results")


def _where(result) -> str:
    return result.key + (f" @ {result.timestamp_s:.1f}s" if result.timestamp_s is not None else "")


def _json(result) -> dict:
    return {"key": result.key, "sku": result.sku, "media_type": str(result.media_type),
            "score": round(result.score, 4), "timestamp_s": result.timestamp_s, "url": result.url}
