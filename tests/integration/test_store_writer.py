"""PgVectorWriter against a real PostgreSQL + pgvector: round trips, idempotency, event order."""

import math
import threading

import numpy as np
import pytest

from stockmind.errors import InvalidVector
from stockmind.store import PgVectorWriter, count_embeddings, count_media, embedded_media
from tests.integration.store_factories import BUCKET, DIM, image_key, media, unit, video_key


@pytest.fixture(params=[False, True], ids=["live", "bulk"])
def writer(database_url, request):
    """Every rule below holds for both writers: a bulk writer COPYs media it takes to be new and
    falls back to the upsert when one is already stored."""
    with PgVectorWriter(database_url, bulk=request.param) as writer:
        yield writer


def stored_vectors(conn, key: str) -> np.ndarray:
    rows = conn.execute(
        "SELECT e.embedding FROM embeddings e JOIN media m USING (client_id, media_id) WHERE m.key = %s"
        " ORDER BY e.frame_no",
        (key,),
    ).fetchall()
    return np.array([row[0].to_numpy() for row in rows], dtype=np.float32)


def stored_etag(conn, key: str) -> str | None:
    return embedded_media(conn).get((BUCKET, key))


def test_vectors_round_trip_as_unit_halfvecs(writer, conn):
    key = video_key("acme", "sku-1", "clip")
    vectors = np.stack([unit(1), unit(2), unit(3)]) * 3.0  # not unit-norm: the writer normalises
    report = writer.write([media(key, vectors, timestamps=[0.0, 1.0, 2.0])])

    assert (report.stored, report.unchanged, report.rows) == (1, 0, 3)
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(stored_vectors(conn, key), expected, atol=1e-3)
    timestamps = conn.execute("SELECT timestamp_s FROM embeddings ORDER BY frame_no").fetchall()
    assert [t for (t,) in timestamps] == [0.0, 1.0, 2.0]


def test_replaying_an_event_changes_nothing(writer, conn):
    key = image_key("acme", "sku-1", "photo")
    item = media(key, unit(1))
    writer.write([item])
    before = conn.execute("SELECT media_id, updated_at FROM media").fetchall()

    report = writer.write([item])

    assert (report.stored, report.unchanged, report.rows) == (0, 1, 0)
    assert conn.execute("SELECT media_id, updated_at FROM media").fetchall() == before
    assert count_embeddings(conn, "acme") == 1


def test_two_events_for_one_multipart_upload_store_it_once(writer, conn):
    # moto sends ObjectCreated:Put then CompleteMultipartUpload with the same key and eTag.
    key = image_key("acme", "sku-1", "big")
    report = writer.write([media(key, unit(1), etag="mp-2", seconds=0), media(key, unit(1), etag="mp-2", seconds=1)])
    again = writer.write([media(key, unit(1), etag="mp-2", seconds=1)])

    assert report.stored == 1 and again.stored == 0
    assert count_embeddings(conn, "acme") == 1


def test_a_newer_version_replaces_the_old_vectors(writer, conn):
    key = video_key("acme", "sku-1", "clip")
    writer.write([media(key, np.stack([unit(1), unit(2)]), etag="v1", seconds=0, timestamps=[0.0, 1.0])])

    report = writer.write([media(key, unit(9), etag="v2", seconds=10, timestamps=[0.5])])

    assert report.stored == 1
    np.testing.assert_allclose(stored_vectors(conn, key), unit(9)[None, :], atol=1e-3)
    assert stored_etag(conn, key) == "v2"


def test_an_older_late_event_does_not_overwrite_a_newer_version(writer, conn):
    key = image_key("acme", "sku-1", "photo")
    writer.write([media(key, unit(2), etag="v2", seconds=10)])

    report = writer.write([media(key, unit(1), etag="v1", seconds=0)])

    assert (report.stored, report.unchanged) == (0, 1)
    assert stored_etag(conn, key) == "v2"
    np.testing.assert_allclose(stored_vectors(conn, key), unit(2)[None, :], atol=1e-3)


def test_sequencers_order_events_as_left_padded_hex(writer, conn):
    key = image_key("acme", "sku-1", "photo")
    # "0FF" < "A0" as text but 0xFF > 0xA0: the rule pads to equal length before comparing.
    writer.write([media(key, unit(1), etag="newer", sequencer="0FF", seconds=0)])
    stale = writer.write([media(key, unit(2), etag="older", sequencer="A0", seconds=99)])
    newer = writer.write([media(key, unit(3), etag="newest", sequencer="0000000100", seconds=0)])

    assert stale.stored == 0 and newer.stored == 1
    assert stored_etag(conn, key) == "newest"


def test_within_one_batch_the_newest_event_for_a_key_wins(writer, conn):
    key = image_key("acme", "sku-1", "photo")
    report = writer.write([media(key, unit(2), etag="v2", seconds=10), media(key, unit(1), etag="v1", seconds=0)])

    assert report.stored == 1
    assert stored_etag(conn, key) == "v2"


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.ones((1, DIM + 1)), "expected 16-d vectors"),
        (np.full((1, DIM), math.nan), "NaN or infinity"),
        (np.full((1, DIM), math.inf), "NaN or infinity"),
        (np.zeros((1, DIM)), "zero"),
        (np.ones((0, DIM)), "non-empty"),
    ],
)
def test_a_malformed_vector_is_rejected_and_nothing_is_written(writer, conn, vectors, message):
    writer.write([media(image_key("acme", "sku-0", "first"), unit(0))])  # registers the model as 16-d
    good = media(image_key("acme", "sku-1", "good"), unit(1))
    bad = media(image_key("acme", "sku-2", "bad"), vectors)

    with pytest.raises(InvalidVector, match=message):
        writer.write([good, bad])

    assert count_media(conn, "acme") == 1
    assert count_embeddings(conn, "acme") == 1


def test_a_model_registered_by_another_writer_keeps_its_dimension(database_url, writer, conn):
    writer.write([media(image_key("acme", "sku-0", "first"), unit(0))])  # registers the model as 16-d

    with PgVectorWriter(database_url) as other, pytest.raises(InvalidVector, match="expected 16-d vectors"):
        other.write([media(image_key("globex", "sku-1", "wider"), unit(1, dim=DIM + 1))])

    assert count_media(conn, "globex") == 0


def test_timestamps_must_match_the_vectors(writer):
    with pytest.raises(InvalidVector, match="2 vectors but 1 timestamps"):
        writer.write([media(video_key("acme", "s", "clip"), np.stack([unit(1), unit(2)]), timestamps=[0.0])])


def test_concurrent_first_writes_to_a_new_client_both_succeed(database_url, conn):
    barrier = threading.Barrier(4)
    errors = []

    def write(n: int) -> None:
        with PgVectorWriter(database_url) as writer:
            barrier.wait()
            try:
                writer.write([media(image_key("newco", f"sku-{n}", "photo"), unit(n))])
            except Exception as error:  # collected so the assertion below names it
                errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert count_media(conn, "newco") == 4
    assert conn.execute("SELECT count(*) FROM tenants WHERE client_id = 'newco'").fetchone()[0] == 1


def test_a_bulk_batch_mixing_new_and_stored_keys_writes_only_what_changed(database_url, conn):
    with PgVectorWriter(database_url, bulk=True) as writer:
        writer.write([media(image_key("acme", "sku-1", "old"), unit(1), etag="a")])
        report = writer.write([
            media(image_key("acme", "sku-1", "old"), unit(1), etag="a"),  # a replay
            media(image_key("acme", "sku-2", "new"), unit(2), etag="b"),
            media(image_key("acme", "sku-3", "newer"), unit(3), etag="c"),
        ])

    assert (report.stored, report.unchanged, report.rows) == (2, 1, 2)
    assert sorted(report.stored_keys) == [image_key("acme", "sku-2", "new"), image_key("acme", "sku-3", "newer")]
    assert count_media(conn, "acme") == 3 and count_embeddings(conn, "acme") == 3


def test_two_bulk_writers_storing_one_new_key_at_once_keep_the_newer(database_url, conn):
    key = image_key("acme", "sku-1", "photo")
    writer = PgVectorWriter(database_url, bulk=True)
    writer.write([media(image_key("acme", "sku-0", "first"), unit(0))])  # the tenant exists
    barrier = threading.Barrier(2)
    errors = []

    def write(etag: str, seconds: int, direction: int) -> None:
        with PgVectorWriter(database_url, bulk=True) as other:
            barrier.wait()
            try:
                other.write([media(key, unit(direction), etag=etag, seconds=seconds)])
            except Exception as error:  # collected so the assertion below names it
                errors.append(error)

    threads = [threading.Thread(target=write, args=args) for args in (("older", 0, 1), ("newer", 10, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    assert errors == []
    assert stored_etag(conn, key) == "newer"
    np.testing.assert_allclose(stored_vectors(conn, key), unit(2)[None, :], atol=1e-3)


def test_replace_rewrites_the_same_object_and_still_ignores_older_ones(database_url, conn):
    key = image_key("acme", "sku-1", "photo")
    with PgVectorWriter(database_url) as writer:
        writer.write([media(key, unit(1), etag="v2", seconds=10)])
    with PgVectorWriter(database_url, bulk=True, replace=True) as forced:
        # Re-embedded from a listing whose time is older than the event that stored it.
        same = forced.write([media(key, unit(2), etag="v2", seconds=5)])
        older = forced.write([media(key, unit(3), etag="v1", seconds=0)])

    assert (same.stored, older.stored) == (1, 0)
    assert stored_etag(conn, key) == "v2"
    np.testing.assert_allclose(stored_vectors(conn, key), unit(2)[None, :], atol=1e-3)
