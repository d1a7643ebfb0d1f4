"""The backfill against the real local stack: moto S3, PostgreSQL + pgvector and the stack's Ray head.

`ray` is imported only once the stack's environment is set (`run_backfill` below): Ray reads its
loopback settings when it is first imported, and a collection-time import would miss them.
"""

from __future__ import annotations

import numpy as np
import pytest

from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.report import read_failure_report
from stockmind.store import connect, count_embeddings, count_media, search_vectors
from tests.integration.backfill_media import MODEL, upload_catalogue, write_inventory

pytestmark = pytest.mark.slow


def run_backfill(options: BackfillOptions):
    from stockmind.backfill.runner import run_backfill as run

    return run(options)


def stored_vector(conn, key: str) -> np.ndarray:
    (vector,) = conn.execute(
        "SELECT e.embedding FROM embeddings e JOIN media m USING (client_id, media_id)"
        " WHERE m.key = %s AND e.frame_no = 0", (key,)).fetchone()
    return np.asarray(vector.to_list(), dtype=np.float32)


def test_backfill_of_two_clients_is_searchable_reports_bad_objects_and_a_rerun_embeds_nothing(
        aws, backfill_options, database_url, tmp_path):
    shop = upload_catalogue(aws.s3, aws.bucket, "shop-a")
    other = upload_catalogue(aws.s3, aws.bucket, "shop-b")
    broken = "clients/shop-b/products/sku-9/media/image/broken.jpg"
    aws.s3.put_object(Bucket=aws.bucket, Key=broken, Body=b"\xff\xd8 this is not a JPEG")
    stray = "clients/shop-b/products/sku-9/notes.txt"
    aws.s3.put_object(Bucket=aws.bucket, Key=stray, Body=b"not media")

    first = run_backfill(backfill_options(prefix="clients/", report=tmp_path / "failures.jsonl"))

    assert (first.listed, first.skipped, first.embedded, first.failed) == (10, 0, 8, 2)
    assert first.frames == sum(u.frames for u in shop + other)
    reasons = {f.key: f.reason for f in read_failure_report(tmp_path / "failures.jsonl")}
    assert reasons == {broken: "undecodable_media", stray: "invalid_media_key"}
    with connect(database_url) as conn:
        for client, uploaded in (("shop-a", shop), ("shop-b", other)):
            assert count_media(conn, client) == len(uploaded)
            assert count_embeddings(conn, client) == sum(u.frames for u in uploaded)
        # Every object is found by its own vector, inside its own tenant only.
        for item in shop:
            hits = search_vectors(conn, "shop-a", stored_vector(conn, item.key), k=3, model_id=MODEL)
            assert hits[0].key == item.key
        hits = search_vectors(conn, "shop-b", stored_vector(conn, shop[1].key), k=10, model_id=MODEL)
        assert {hit.key for hit in hits} == {u.key for u in other}
        # The bulk load deferred the new tenants' indexes and built them at the end.
        states = conn.execute("SELECT DISTINCT state FROM tenant_indexes").fetchall()
        assert states == [("ready",)]
        assert_vectors_match_the_bare_embedder(aws, conn, shop[:2])

    second = run_backfill(backfill_options(prefix="clients/"))

    assert (second.listed, second.skipped, second.embedded, second.failed) == (10, 8, 0, 2)
    # --force skips nothing: the 8 stored objects and the broken one (never stored) would be fetched.
    forced = run_backfill(backfill_options(prefix="clients/", force=True, dry_run=True))
    assert (forced.skipped, forced.to_embed, forced.failed) == (0, 9, 1)
    # ... and really re-embeds: the store's rows are rewritten, none is left as it was.
    with connect(database_url) as conn:
        before = dict(conn.execute("SELECT key, revision FROM media WHERE client_id = 'shop-a'").fetchall())
    rerun = run_backfill(backfill_options(prefix="clients/shop-a/", force=True))
    assert (rerun.skipped, rerun.embedded, rerun.unchanged, rerun.failed) == (0, len(shop), 0, 0)
    with connect(database_url) as conn:
        after = dict(conn.execute("SELECT key, revision FROM media WHERE client_id = 'shop-a'").fetchall())
        assert after == {key: revision + 1 for key, revision in before.items()}
        assert count_embeddings(conn, "shop-a") == sum(u.frames for u in shop)


def assert_vectors_match_the_bare_embedder(aws, conn, uploaded) -> None:
    from stockmind.decode.image import ImagePreprocessor
    from stockmind.embed.embedder import ClipEmbedder

    embedder = ClipEmbedder(MODEL, device="cpu")
    preprocessor = ImagePreprocessor.from_pretrained(MODEL, device="cpu")
    for item in uploaded:
        data = aws.s3.get_object(Bucket=aws.bucket, Key=item.key)["Body"].read()
        expected = embedder.embed_images(preprocessor.preprocess_batch([data]))[0]
        # halfvec storage moves cosines by ~1e-3.
        assert float(stored_vector(conn, item.key) @ expected) > 0.99


def test_a_manifest_and_a_prefix_give_the_same_rows(aws, backfill_options, local_stack, database_url):
    from stockmind.store import migrate

    upload_catalogue(aws.s3, aws.bucket, "shop-d")
    manifest = write_inventory(aws.s3, aws.bucket, "clients/")
    other_url = local_stack.postgres.create_database("test_backfill_manifest")
    try:
        migrate(other_url)
        by_prefix = run_backfill(backfill_options(prefix="clients/"))
        by_manifest = run_backfill(backfill_options(manifest=manifest, database_url=other_url))
        assert (by_manifest.listed, by_manifest.embedded, by_manifest.frames) == (
            by_prefix.listed, by_prefix.embedded, by_prefix.frames)
        assert stored_rows(other_url) == stored_rows(database_url)
    finally:
        local_stack.postgres.drop_database("test_backfill_manifest")


def stored_rows(database_url: str) -> list[tuple]:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT m.key, m.etag, m.frame_count, e.frame_no, e.timestamp_s, e.embedding::text"
            " FROM media m JOIN embeddings e USING (client_id, media_id) ORDER BY m.key, e.frame_no").fetchall()
    assert rows
    return rows


def test_a_batch_the_store_rejects_fails_alone_and_a_rerun_completes_it_without_duplicates(
        aws, backfill_options, database_url):
    uploaded = upload_catalogue(aws.s3, aws.bucket, "shop-e", images=4)
    rejected = uploaded[2].key
    with connect(database_url) as conn:
        # A real refusal from PostgreSQL for one object (as an outage or a lock timeout would be).
        conn.execute(
            "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$")
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON media FOR EACH ROW"
                     f" WHEN (NEW.key = '{rejected}') EXECUTE FUNCTION refuse_row()")

    first = run_backfill(backfill_options(prefix="clients/shop-e/"))

    assert (first.embedded, first.failed) == (len(uploaded) - 1, 1)
    with connect(database_url) as conn:
        conn.execute("DROP TRIGGER refuse ON media")

    # The re-run also reloads the tenant "at scale": its index is dropped first and rebuilt after.
    second = run_backfill(backfill_options(prefix="clients/shop-e/", defer_indexes=True))

    assert (second.skipped, second.embedded, second.failed) == (len(uploaded) - 1, 1, 0)
    with connect(database_url) as conn:
        assert count_media(conn, "shop-e") == len(uploaded)
        assert conn.execute("SELECT state FROM tenant_indexes WHERE client_id = 'shop-e'").fetchall() == [("ready",)]
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%hnsw%'").fetchone()[0] == 1
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (media_id, frame_no)) FROM embeddings WHERE client_id = 'shop-e'"
        ).fetchone()
        assert total == distinct == sum(u.frames for u in uploaded)


def test_dry_run_counts_what_would_be_embedded_and_writes_nothing(aws, backfill_options, database_url):
    upload_catalogue(aws.s3, aws.bucket, "shop-f", images=2)
    summary = run_backfill(backfill_options(prefix="clients/shop-f/", dry_run=True))
    assert (summary.listed, summary.to_embed, summary.skipped) == (3, 3, 0)
    with connect(database_url) as conn:
        assert count_media(conn, "shop-f") == 0


def test_an_object_over_the_size_limit_is_reported_as_too_large_and_the_rest_are_embedded(
        aws, backfill_options, database_url, tmp_path):
    uploaded = upload_catalogue(aws.s3, aws.bucket, "shop-g", images=2, with_video=False)
    limit = 50_000  # the catalogue's images are a few KB each
    huge = "clients/shop-g/products/sku-9/media/image/huge.jpg"
    aws.s3.put_object(Bucket=aws.bucket, Key=huge, Body=b"\0" * (limit + 1))

    summary = run_backfill(backfill_options(prefix="clients/shop-g/", max_object_bytes=limit,
                                   report=tmp_path / "failures.jsonl"))

    assert (summary.listed, summary.embedded, summary.failed) == (3, len(uploaded), 1)
    (failure,) = read_failure_report(tmp_path / "failures.jsonl")
    assert (failure.key, failure.reason) == (huge, "media_too_large")
    assert "50,001 bytes, over the limit of 50,000" in failure.detail
    with connect(database_url) as conn:
        assert count_media(conn, "shop-g") == len(uploaded)
