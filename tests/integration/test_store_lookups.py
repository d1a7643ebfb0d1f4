"""What the store holds, as the backfill and the evaluation ask for it, against a real PostgreSQL."""

import psycopg
import pytest

from stockmind.store import connect, embedded_media, is_searchable, storage_bytes
from stockmind.store.partitions import partition_suffix
from tests.integration.store_factories import BUCKET, image_key, media, removal, unit


def test_embedded_media_narrows_to_a_tenant_model_bucket_and_keys(writer, conn):
    wanted, other_key = image_key("acme", "s1", "a"), image_key("acme", "s2", "b")
    writer.write([
        media(wanted, unit(1), etag="e1"), media(other_key, unit(2)),
        media(image_key("globex", "s1", "a"), unit(3)),
        media(image_key("acme", "s3", "c"), unit(4), model="other-model"),
    ])

    held = embedded_media(conn, client_id="acme", model_id="test-model", bucket=BUCKET,
                          keys=[wanted, image_key("acme", "s9", "never")])

    assert held == {(BUCKET, wanted): "e1"}
    assert embedded_media(conn, client_id="acme", bucket="another-bucket", keys=[wanted]) == {}
    assert set(embedded_media(conn, client_id="acme", model_id="test-model")) == {(BUCKET, wanted), (BUCKET, other_key)}


def test_embedded_media_of_one_tenant_reads_only_its_partition(database_url, writer, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1)), media(image_key("globex", "s1", "a"), unit(2))])
    conn.execute("SET lock_timeout = '2s'")

    with connect(database_url, autocommit=False) as other:  # holds globex's partition until it closes
        other.execute(f"LOCK TABLE media_p_{partition_suffix('globex')} IN ACCESS EXCLUSIVE MODE")

        assert set(embedded_media(conn, client_id="acme", keys=[image_key("acme", "s1", "a")])) == {
            (BUCKET, image_key("acme", "s1", "a"))}
        with pytest.raises(psycopg.errors.LockNotAvailable):
            embedded_media(conn)  # every tenant: it has to wait for globex


def test_media_is_searchable_once_this_version_has_vectors(writer, conn):
    key = image_key("acme", "s1", "a")
    assert not is_searchable(conn, "acme", key, "e1")

    writer.write([media(key, unit(1), etag="e1", seconds=0)])
    assert is_searchable(conn, "acme", key, "e1")
    assert not is_searchable(conn, "acme", key, "e2")  # another upload of the key is not searchable yet
    assert not is_searchable(conn, "globex", key, "e1")

    writer.delete([removal(key, seconds=5)])
    assert not is_searchable(conn, "acme", key, "e1")


def test_storage_bytes_counts_every_tenant_s_vectors_indexes_and_media(writer, conn):
    empty = storage_bytes(conn)
    # Before any tenant: no partitions; only the empty per-model records table (its pages, its key index).
    assert {**empty, "media": 0} == {"vectors": 0, "hnsw": 0, "media": 0, "count": 0}

    writer.write([media(image_key("acme", "s1", "a"), unit(1)), media(image_key("globex", "s1", "a"), unit(2)),
                  media(image_key("globex", "s2", "b"), [unit(3), unit(4)])])
    one_index = storage_bytes(conn)
    writer.write([media(image_key("acme", "s3", "c"), unit(5), model="other-model")])

    assert one_index["count"] == 4
    assert min(one_index["vectors"], one_index["hnsw"]) > 0 and one_index["media"] > empty["media"]
    assert storage_bytes(conn)["hnsw"] > one_index["hnsw"]  # a second model is a second index on acme's partition
