"""The rows that flow through the backfill pipeline, as Arrow schemas and plain-dict builders.

Keys step: one `OBJECT_SCHEMA` row per listed object. Frames step: one row per image or sampled
video frame, carrying what the writer needs to group the frames back into their media object.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from stockmind.media.etags import bare_etag

OBJECT_SCHEMA = pa.schema([
    ("bucket", pa.string()),
    ("key", pa.string()),
    # Unknown (null) when the source does not say: a plain list of keys.
    ("etag", pa.string()),
    ("size", pa.int64()),
    ("modified_s", pa.float64()),
])

# After the GET: the eTag, version and time are those of the bytes read, which may be newer than listed.
FETCHED_SCHEMA = pa.schema([*OBJECT_SCHEMA, ("version_id", pa.string()), ("data", pa.large_binary())])


def object_row(bucket: str, key: str, etag: str | None = None, size: int | None = None,
               modified: datetime | None = None) -> dict:
    return {
        "bucket": bucket,
        "key": key,
        "etag": bare_etag(etag),
        "size": size,
        "modified_s": modified.timestamp() if modified is not None else None,
    }


def objects_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=OBJECT_SCHEMA)
