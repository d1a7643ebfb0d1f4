"""What the media table's indexes cost a load: the floor under bench/store.py's writer_vs_copy.

The writer must keep, per image, a media row with two unique btrees (the key, for idempotent
upserts; media_id, for the vectors' join) besides the vector row. This COPYs the same media rows,
1000 a transaction, into tables that differ only in their indexes, taking turns batch by batch, and
prints each rate as a ratio to the unindexed table's:

- plain: no index (what the raw baseline writes);
- key: the primary key (bucket, key, client_id);
- media_id: the unique (media_id, client_id);
- both: the two, as `media` has them;
- partitioned: the real `media` (both, through the tenant's LIST partition).

    python bench/media_indexes.py [--quick | --batches N]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from stockmind.media.keys import media_key
from stockmind.store import connect, migrate
from stockmind.store.partitions import ensure_tenant

from store import RAW_MEDIA_COPY, RAW_MEDIA_TYPES, start_server

BATCH = 1000
CLIENT = "tenant-00"
TABLES = {
    "plain": [],
    "key": ["PRIMARY KEY (bucket, key, client_id)"],
    "media_id": ["UNIQUE (media_id, client_id)"],
    "both": ["PRIMARY KEY (bucket, key, client_id)", "UNIQUE (media_id, client_id)"],
}


def media_rows(start: int) -> list[tuple]:
    return [
        (CLIENT, r, "bench-bucket", media_key(CLIENT, f"p{r % 97}", "image", f"{r}.jpg"), f"p{r % 97}",
         "image", "active", f"e{r}", None, None, None, 1, 1)
        for r in range(start, start + BATCH)
    ]


def copy_rows(conn, table: str, rows: list[tuple]) -> float:
    started = time.perf_counter()
    with conn.transaction():
        with conn.cursor().copy(RAW_MEDIA_COPY.format(table=table)) as copy:
            copy.set_types(RAW_MEDIA_TYPES)
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def main(batches: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="stockmind-bench-media-"))
    server = start_server(root)
    try:
        url = server.create_database("bench")
        migrate(url)
        with connect(url) as conn:
            ensure_tenant(conn, CLIENT)
            for name, constraints in TABLES.items():
                conn.execute(f"CREATE TABLE media_{name} (LIKE media INCLUDING DEFAULTS)")
                for constraint in constraints:
                    conn.execute(f"ALTER TABLE media_{name} ADD {constraint}")
            targets = [f"media_{name}" for name in TABLES] + ["media"]
            seconds = dict.fromkeys(targets, 0.0)
            for number in range(batches):
                rows = media_rows(number * BATCH)  # built before the clocks start
                turn = targets[number % len(targets):] + targets[:number % len(targets)]
                for table in turn:
                    seconds[table] += copy_rows(conn, table, rows)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    plain = seconds["media_plain"]
    for table, spent in seconds.items():
        label = "partitioned" if table == "media" else table.removeprefix("media_")
        print(f"{label}_ms_per_1000_rows={spent / batches * 1000:.2f}")
    for table, spent in seconds.items():
        label = "partitioned" if table == "media" else table.removeprefix("media_")
        print(f"{label}_vs_plain={plain / spent:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=None, help="batches of 1000 rows per table (default 40)")
    parser.add_argument("--quick", action="store_true", help="10 batches")
    args = parser.parse_args()
    main(args.batches or (10 if args.quick else 40))
