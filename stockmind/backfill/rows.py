"""The rows that flow through the backfill pipeline, as Arrow schemas and plain-dict builders.

Keys step: one `OBJECT_SCHEMA` row per listed object. Frames step: one row per image or sampled
video frame, carrying what the writer needs to group the frames back into their media object; when
the embedders decode the images, these rows are `MEDIA_ROW_SCHEMA`'s.
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
# `content_sha256` is the SHA-256 of those bytes in hex: numpy batches hold bytes as fixed-width `S32`,
# which drops trailing NUL bytes (one digest in 256 ends in one), and hex cannot lose any.
FETCHED_SCHEMA = pa.schema([*OBJECT_SCHEMA, ("version_id", pa.string()), ("content_sha256", pa.string()),
                            ("data", pa.large_binary())])

# What travels with every frame row so the writer can put an object back together and store it.
IDENTITY_COLUMNS = ("bucket", "key", "etag", "version_id", "size", "modified_s", "content_sha256")

# Into embedders that decode the images themselves: `data` is an image's file (`encoded`) or a video
# frame's preprocessed float32 (3, S, S) pixels. One schema for both kinds of row, so Ray Data never
# meets blocks of two schemas (a block of images only, another of frames only) to put together.
MEDIA_ROW_SCHEMA = pa.schema([
    *(FETCHED_SCHEMA.field(name) for name in IDENTITY_COLUMNS),
    ("frame_no", pa.int64()),
    ("frame_count", pa.int64()),
    ("timestamp_s", pa.float64()),  # NaN for an image
    ("data", pa.large_binary()),
    ("encoded", pa.bool_()),
])


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
