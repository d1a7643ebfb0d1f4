"""The backfill's fetch stage on its own, against the stack's moto S3: one fetcher actor's batches."""

from __future__ import annotations

import pytest

from stockmind.backfill.rows import FETCHED_SCHEMA, object_row, objects_table

pytestmark = pytest.mark.slow


def test_a_fetcher_returns_what_it_read_and_reports_missing_and_oversized_objects_batch_after_batch(
        aws, ray_cluster):
    import ray

    from stockmind.backfill.fetch import ObjectFetcher
    from stockmind.backfill.tally import Tally

    prefix = "clients/shop-fetch/products/sku-1/media/image"
    for n in range(3):
        aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/p{n}.jpg", Body=b"x" * (10 + n))
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/huge.jpg", Body=b"x" * 101)
    tally = ray.remote(num_cpus=0)(Tally).remote()
    fetcher = ObjectFetcher(100, tally)
    try:
        # The listing is older than the objects: its eTags are stale, a key has gone since.
        first = objects_table([object_row(aws.bucket, f"{prefix}/p0.jpg", etag="stale", size=10),
                               object_row(aws.bucket, f"{prefix}/gone.jpg", size=5),
                               object_row(aws.bucket, f"{prefix}/huge.jpg", size=101)])
        second = objects_table([object_row(aws.bucket, f"{prefix}/p{n}.jpg") for n in (1, 2)])

        fetched = [table for batch in (first, second) for table in fetcher(batch)]

        assert [table.schema for table in fetched] == [FETCHED_SCHEMA, FETCHED_SCHEMA]
        rows = [row for table in fetched for row in table.to_pylist()]
        assert [(row["key"].rsplit("/", 1)[1], row["data"], row["size"]) for row in rows] == [
            ("p0.jpg", b"x" * 10, 10), ("p1.jpg", b"x" * 11, 11), ("p2.jpg", b"x" * 12, 12)]
        head = aws.s3.head_object(Bucket=aws.bucket, Key=f"{prefix}/p0.jpg")
        assert rows[0]["etag"] == head["ETag"].strip('"')
        failures = ray.get(tally.failures.remote())
        assert {(f.key.rsplit("/", 1)[1], f.reason) for f in failures} == {
            ("gone.jpg", "media_missing"), ("huge.jpg", "media_too_large")}
    finally:
        ray.kill(tally)
