"""Where the keys to backfill come from: an S3 prefix listing, a plain list of keys, or (to re-embed
with another model) the live media the store holds for a tenant.

A source is a list of *shards*; each shard yields its objects page by page (`pages()`), so the
pipeline starts on the first page while the rest is still being listed, and shards are listed in
parallel (one Ray read task each). A prefix above the tenant level (`clients/`) is split into one
shard per tenant folder with a single delimiter listing; below it (`clients/c1/...`) it is one shard.
For 100M-object buckets, an S3 Inventory manifest (`inventory.py`) avoids listing at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Protocol

from stockmind.backfill.rows import object_row
from stockmind.errors import ConfigError
from stockmind.media.objects import s3_client
from stockmind.store import connect
from stockmind.store.lookups import live_media_page
from stockmind.topology import MEDIA_PREFIX

log = logging.getLogger(__name__)

# S3 returns at most 1000 keys per ListObjectsV2 page; a page becomes one block of the pipeline.
PAGE_SIZE = 1000


class Shard(Protocol):
    def pages(self) -> Iterator[list[dict]]:
        """Lists of `rows.OBJECT_SCHEMA` rows, one per page."""


@dataclass(frozen=True)
class ListingShard:
    """Every object under one prefix, one ListObjectsV2 page at a time (boto3's paginator)."""

    bucket: str
    prefix: str

    def pages(self) -> Iterator[list[dict]]:
        paginator = s3_client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix,
                                       PaginationConfig={"PageSize": PAGE_SIZE}):
            rows = [object_row(self.bucket, item["Key"], item.get("ETag"), item.get("Size"),
                               item.get("LastModified")) for item in page.get("Contents", [])]
            if rows:
                yield rows


@dataclass(frozen=True)
class RowsShard:
    """Objects already known when the plan is made (loose objects of a listing, a list of keys)."""

    rows: tuple[dict, ...]

    def pages(self) -> Iterator[list[dict]]:
        for start in range(0, len(self.rows), PAGE_SIZE):
            yield list(self.rows[start:start + PAGE_SIZE])


@dataclass(frozen=True)
class StoredMediaShard:
    """A tenant's live media as the store holds them (a reindex embeds what is already searchable,
    not what the bucket lists), in key order, optionally only those changed since a moment."""

    database_url: str
    client_id: str
    changed_since: datetime | None = None

    def pages(self) -> Iterator[list[dict]]:
        with connect(self.database_url) as conn:
            after = None
            while True:
                page = live_media_page(conn, self.client_id, after=after, changed_since=self.changed_since,
                                       limit=PAGE_SIZE)
                if not page:
                    return
                yield [object_row(bucket, key, etag, size) for bucket, key, etag, size in page]
                after = page[-1][:2]


def prefix_shards(bucket: str, prefix: str) -> list[Shard]:
    """Shards covering `prefix`: one per tenant folder when the prefix stops above one."""
    if not prefix.startswith(MEDIA_PREFIX):
        raise ConfigError(f"--prefix must start with {MEDIA_PREFIX!r} (the media layout), got {prefix!r}")
    if "/" in prefix[len(MEDIA_PREFIX):]:
        return [ListingShard(bucket, prefix)]
    tenants, loose = [], []
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        tenants += [ListingShard(bucket, common["Prefix"]) for common in page.get("CommonPrefixes", [])]
        loose += [object_row(bucket, item["Key"], item.get("ETag"), item.get("Size"), item.get("LastModified"))
                  for item in page.get("Contents", [])]
    log.info("prefix %r: %d tenant folders, %d objects outside any", prefix, len(tenants), len(loose))
    # Objects outside a tenant folder are not media; they still go through, to be reported as such.
    return tenants + ([RowsShard(tuple(loose))] if loose else [])


def key_list_shards(bucket: str, path: str | Path, keys_per_shard: int = 10 * PAGE_SIZE) -> list[Shard]:
    """A local UTF-8 file with one key per line (blank lines ignored). The driver reads it whole, so
    it suits retry lists and partial runs; use an Inventory manifest for whole buckets."""
    try:
        with open(path, encoding="utf-8", newline="") as lines:
            # Only the line break is removed: spaces at either end are part of a valid S3 key.
            keys = [line.rstrip("\r\n") for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the keys file {str(path)!r}: {error}") from error
    rows = [object_row(bucket, key) for key in keys]
    return [RowsShard(tuple(rows[start:start + keys_per_shard])) for start in range(0, len(rows), keys_per_shard)]


def client_ids_of(shards: list[Shard]) -> list[str]:
    """The tenants whose folders the listing shards cover (for deferring their indexes)."""
    ids = []
    for shard in shards:
        if isinstance(shard, ListingShard):
            parts = shard.prefix.split("/")
            if len(parts) > 2 and parts[1]:
                ids.append(parts[1])
    return sorted(set(ids))
