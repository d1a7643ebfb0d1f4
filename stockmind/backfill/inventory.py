"""S3 Inventory as a source of keys: manifest.json → its CSV.gz files → object rows, without listing.

An Inventory report (daily or weekly) names every object of a bucket in a few gzipped CSV files, with
the columns given by the manifest's `fileSchema` (Bucket, Key, ... Size, LastModifiedDate, ETag). Each
file is one shard, streamed and decompressed page by page. Keys in the CSV are URL-encoded (AWS: "the
key name is URL-encoded and must be decoded"), as in event notifications.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator
from urllib.parse import unquote_plus

from stockmind.backfill.rows import object_row
from stockmind.backfill.sources import PAGE_SIZE, Shard
from stockmind.errors import ConfigError, MediaMissing
from stockmind.media.objects import open_object, read_object, s3_client, split_s3_url

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("Bucket", "Key")
MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a manifest names files, a few KB each thousand


@dataclass(frozen=True)
class InventoryFileShard:
    """One CSV.gz file of an Inventory report."""

    bucket: str  # where the report lives (the inventory's destination bucket)
    key: str
    columns: tuple[str, ...]
    prefix: str = ""

    def pages(self) -> Iterator[list[dict]]:
        with (open_object(s3_client(), self.bucket, self.key) as body, gzip.GzipFile(fileobj=body) as unzipped,
              io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as text):
            page = []
            for row in inventory_rows(text, self.columns, self.prefix):
                page.append(row)
                if len(page) == PAGE_SIZE:
                    yield page
                    page = []
            if page:
                yield page


def inventory_rows(text: Iterable[str], columns: tuple[str, ...], prefix: str = "") -> Iterator[dict]:
    """Object rows from the lines of an Inventory CSV (no header; `columns` from the manifest)."""
    for values in csv.reader(text):
        record = dict(zip(columns, values))
        # A versioned inventory lists every version and delete marker; only the current object counts.
        if record.get("IsLatest", "true").lower() != "true" or record.get("IsDeleteMarker", "false").lower() == "true":
            continue
        key = unquote_plus(record["Key"])
        if not key.startswith(prefix):
            continue
        size = record.get("Size")
        yield object_row(record["Bucket"], key, record.get("ETag") or None, int(size) if size else None,
                         _inventory_time(record.get("LastModifiedDate")))


def manifest_shards(manifest_url: str, prefix: str = "") -> list[Shard]:
    """The shards of the report described by `s3://bucket/.../manifest.json`, optionally only `prefix`."""
    bucket, key = split_s3_url(manifest_url)
    try:
        _, data = read_object(s3_client(), bucket, key, max_bytes=MAX_MANIFEST_BYTES)
        manifest = json.loads(data)
    except MediaMissing:
        raise ConfigError(f"no Inventory manifest at {manifest_url}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{manifest_url} is not a JSON Inventory manifest: {error}") from error
    columns = manifest_columns(manifest, manifest_url)
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("key") for f in files):
        raise ConfigError(f"{manifest_url}: 'files' must be a list of {{'key': ...}} entries")
    # The CSV files live in the destination bucket, which is also where the manifest was read from.
    destination = str(manifest.get("destinationBucket", bucket)).removeprefix("arn:aws:s3:::")
    log.info("inventory %s: %d files, columns %s", manifest_url, len(files), ", ".join(columns))
    return [InventoryFileShard(destination, f["key"], columns, prefix) for f in files]


def manifest_columns(manifest: dict, where: str) -> tuple[str, ...]:
    if manifest.get("fileFormat", "CSV").upper() != "CSV":
        raise ConfigError(f"{where}: only CSV inventories are supported, not {manifest.get('fileFormat')!r}")
    schema = manifest.get("fileSchema")
    if not isinstance(schema, str):
        raise ConfigError(f"{where}: missing 'fileSchema'")
    columns = tuple(name.strip() for name in schema.split(","))
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ConfigError(f"{where}: fileSchema lacks {', '.join(missing)}")
    return columns


def _inventory_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
