"""ObjectRemoved handling and whole-tenant deletion against a real PostgreSQL + pgvector."""

from stockmind.store import PgVectorWriter, count_embeddings, count_media, embedded_media, search_vectors
from tests.integration.store_factories import BUCKET, image_key, media, removal, unit, video_key


def test_a_removal_deletes_the_media_and_its_vectors(writer, conn):
    kept, gone = image_key("acme", "s1", "kept"), video_key("acme", "s2", "gone")
    writer.write([media(kept, unit(1)), media(gone, [unit(2), unit(3)], timestamps=[0.0, 1.0])])

    assert writer.delete([removal(gone, seconds=5)]) == 1

    assert set(embedded_media(conn)) == {(BUCKET, kept)}
    assert count_embeddings(conn, "acme") == 1
    assert [hit.key for hit in search_vectors(conn, "acme", unit(2), 10)] == [kept]


def test_a_removal_older_than_the_stored_version_is_ignored(writer, conn):
    key = image_key("acme", "s1", "photo")
    writer.write([media(key, unit(1), etag="v2", sequencer="0A", seconds=10)])

    assert writer.delete([removal(key, sequencer="09", seconds=20)]) == 0

    assert embedded_media(conn) == {(BUCKET, key): "v2"}
    assert count_embeddings(conn, "acme") == 1


def test_a_late_create_older_than_a_removal_does_not_resurrect_the_media(writer, conn):
    key = image_key("acme", "s1", "photo")
    writer.write([media(key, unit(1), etag="v1", seconds=0)])
    writer.delete([removal(key, seconds=10)])

    late = writer.write([media(key, unit(1), etag="v1", seconds=0)])
    reupload = writer.write([media(key, unit(1), etag="v1", seconds=20)])

    assert late.stored == 0 and reupload.stored == 1
    assert embedded_media(conn) == {(BUCKET, key): "v1"}


def test_a_removal_that_arrives_before_its_create_wins(writer, conn):
    key = image_key("acme", "s1", "photo")
    writer.delete([removal(key, seconds=10)])

    assert writer.write([media(key, unit(1), seconds=0)]).stored == 0
    assert count_media(conn, "acme") == 0
    assert count_media(conn, "acme", status="deleted") == 1


def test_replaying_a_removal_changes_nothing(writer, conn):
    key = image_key("acme", "s1", "photo")
    writer.write([media(key, unit(1), sequencer="01")])
    writer.delete([removal(key, sequencer="02")])

    assert writer.delete([removal(key, sequencer="02")]) == 0
    assert count_media(conn, "acme", status="deleted") == 1


def test_deleting_a_client_drops_its_partitions_and_leaves_others(writer, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1)), media(image_key("other", "s1", "b"), unit(2))])

    assert writer.delete_client("acme") is True

    assert search_vectors(conn, "acme", unit(1), 5) == []
    assert set(embedded_media(conn)) == {(BUCKET, image_key("other", "s1", "b"))}
    tables = {name for (name,) in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE '%%p_acme%%'")}
    assert tables == set()
    assert writer.delete_client("acme") is False


def test_a_client_can_write_again_after_being_deleted(writer, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1))])
    writer.delete_client("acme")

    writer.write([media(image_key("acme", "s1", "a"), unit(1))])

    assert [hit.key for hit in search_vectors(conn, "acme", unit(1), 5)] == [image_key("acme", "s1", "a")]


def test_a_writer_recovers_when_another_process_dropped_its_tenant(writer, database_url, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1))])
    with PgVectorWriter(database_url) as other:
        other.delete_client("acme")

    report = writer.write([media(image_key("acme", "s1", "b"), unit(2))])

    assert report.stored == 1
    assert count_media(conn, "acme") == 1
