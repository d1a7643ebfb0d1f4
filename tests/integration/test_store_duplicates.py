"""Duplicates in the store, on a real PostgreSQL: byte-identical media by their stored content hash,
near-identical media by their vectors, the paged listing of identical groups, always inside one tenant,
and migration 3 adding the hash column to a database that already holds media."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from stockmind.store import PgVectorWriter, connect, identical_groups, identical_media, migrate, near_media
from stockmind.store import migrations as store_migrations
from stockmind.store.partitions import ensure_tenant
from stockmind.store.schema import MIGRATIONS
from tests.integration.store_factories import BUCKET, MODEL, image_key, media, near, removal, unit, video_key

PHOTO = hashlib.sha256(b"photo bytes").digest()
OTHER = hashlib.sha256(b"other bytes").digest()


def hashed(key: str, vectors, digest: bytes | None, **fields):
    return replace(media(key, vectors, **fields), content_sha256=digest)


def keys(found) -> list[str]:
    return [m.key for m in found]


def test_identical_media_share_the_hash_inside_the_tenant_only(writer, conn):
    original = image_key("acme", "sku-1", "front")
    copies = [image_key("acme", "sku-2", "front-copy"), image_key("acme", "sku-3", "reupload")]
    unrelated = image_key("acme", "sku-1", "back")
    foreign = image_key("globex", "sku-1", "front")  # the very same bytes in another tenant
    writer.write([hashed(original, unit(1), PHOTO), *(hashed(k, unit(n), PHOTO) for n, k in enumerate(copies, 2)),
                  hashed(unrelated, unit(9), OTHER), hashed(foreign, unit(1), PHOTO)])

    assert keys(identical_media(conn, "acme", original)) == copies
    assert keys(identical_media(conn, "acme", copies[0])) == sorted([original, copies[1]])
    assert identical_media(conn, "acme", unrelated) == []
    assert identical_media(conn, "globex", foreign) == []
    assert identical_media(conn, "acme", foreign) is None  # another tenant's key names no media of acme's
    assert identical_media(conn, "acme", image_key("acme", "sku-1", "never-stored")) is None
    [found] = identical_media(conn, "acme", original, limit=1)
    assert (found.bucket, found.sku, str(found.media_type)) == (BUCKET, "sku-2", "image")


def test_a_new_version_stores_its_own_hash_and_a_delete_leaves_no_duplicate(writer, conn):
    first, second = image_key("acme", "sku-1", "a"), image_key("acme", "sku-2", "b")
    writer.write([hashed(first, unit(1), PHOTO), hashed(second, unit(2), PHOTO)])
    assert keys(identical_media(conn, "acme", first)) == [second]

    writer.write([hashed(second, unit(3), OTHER, etag="etag-2", seconds=10)])  # overwritten with other bytes
    assert identical_media(conn, "acme", first) == []

    writer.write([hashed(second, unit(2), PHOTO, etag="etag-3", seconds=20)])
    assert keys(identical_media(conn, "acme", first)) == [second]
    writer.delete([removal(second, seconds=30)])
    assert identical_media(conn, "acme", first) == []
    assert identical_media(conn, "acme", second) is None  # deleted: no media any more
    (digest,) = conn.execute("SELECT content_sha256 FROM media WHERE key = %s", (second,)).fetchone()
    assert digest is None  # the tombstone keeps no hash of bytes that are gone


def test_bulk_writes_store_the_hash_too(database_url, conn):
    first, second = image_key("acme", "sku-1", "a"), image_key("acme", "sku-2", "b")
    with PgVectorWriter(database_url, bulk=True) as bulk:
        bulk.write([hashed(first, unit(1), PHOTO), hashed(second, unit(2), PHOTO)])
    assert keys(identical_media(conn, "acme", first)) == [second]


def test_near_media_are_those_above_the_score_best_first_excluding_the_key_and_other_tenants(writer, conn):
    base = unit(1)
    key = image_key("acme", "sku-1", "front")
    close, closer = image_key("acme", "sku-2", "resized"), image_key("acme", "sku-3", "recompressed")
    far = image_key("acme", "sku-4", "another-product")
    writer.write([media(key, base), media(close, near(base, 2, noise=0.08)), media(closer, near(base, 3, noise=0.02)),
                  media(far, unit(2)), media(image_key("globex", "sku-1", "front"), base)])

    hits = near_media(conn, "acme", key, model_id=MODEL, min_score=0.9)

    assert keys(hits) == [closer, close]
    assert hits[0].score > hits[1].score >= 0.9
    assert abs(hits[0].score - float(near(base, 3, noise=0.02) @ base)) < 2e-3  # halfvec storage
    assert keys(near_media(conn, "acme", key, model_id=MODEL, min_score=-1)) == [closer, close, far]
    assert keys(near_media(conn, "acme", key, model_id=MODEL, min_score=-1, limit=1)) == [closer]
    assert near_media(conn, "acme", key, model_id="another-model", min_score=-1) == []
    assert near_media(conn, "globex", key, model_id=MODEL, min_score=-1) == []


def test_videos_are_compared_by_the_mean_of_their_frames(writer, conn):
    frames = np.stack([unit(1), unit(2), unit(3)])
    video, copy = video_key("acme", "sku-1", "reel"), video_key("acme", "sku-2", "reel-copy")
    mean = frames.mean(axis=0) / np.linalg.norm(frames.mean(axis=0))
    still = image_key("acme", "sku-3", "poster")  # the video's mean as an image
    first_frame = image_key("acme", "sku-4", "first-frame")
    writer.write([media(video, frames, timestamps=[0.0, 1.0, 2.0]), media(copy, frames, timestamps=[0.0, 1.0, 2.0]),
                  media(still, mean), media(first_frame, frames[0])])

    hits = {hit.key: hit for hit in near_media(conn, "acme", video, model_id=MODEL, min_score=0.99)}

    assert sorted(hits) == sorted([copy, still])  # one of its frames alone is not the video
    assert all(hit.score > 0.998 and hit.timestamp_s is None for hit in hits.values())


def test_identical_groups_page_by_hash_with_their_keys_and_sizes(writer, conn):
    digests = sorted(hashlib.sha256(f"group {n}".encode()).digest() for n in range(3))
    items = [hashed(image_key("acme", f"sku-{n}", f"copy-{c}"), unit(10 * n + c), digest)
             for n, digest in enumerate(digests) for c in range(n + 2)]
    items.append(hashed(image_key("acme", "sku-9", "alone"), unit(99), OTHER))
    items += [hashed(image_key("globex", "sku-0", f"copy-{c}"), unit(c), digests[0]) for c in range(5)]
    items.append(hashed(image_key("globex", "sku-9", "alone"), unit(99), OTHER))  # a group only across tenants
    writer.write(items)

    first = identical_groups(conn, "acme", limit=2)
    rest = identical_groups(conn, "acme", after=first[-1].content_sha256, limit=2)

    assert [g.content_sha256 for g in first + rest] == digests
    assert [g.count for g in first + rest] == [2, 3, 4]
    assert first[0].keys == [image_key("acme", "sku-0", "copy-0"), image_key("acme", "sku-0", "copy-1")]
    assert identical_groups(conn, "acme", after=digests[-1]) == []
    [capped] = identical_groups(conn, "acme", after=digests[1], keys_per_group=2)
    assert (capped.count, len(capped.keys)) == (4, 2)
    assert [g.count for g in identical_groups(conn, "globex")] == [5]


def test_migration_3_keeps_existing_media_and_gives_them_no_hash(empty_database_url, monkeypatch):
    old_key = image_key("acme", "sku-1", "before")
    monkeypatch.setattr(store_migrations, "MIGRATIONS", MIGRATIONS[:2])
    assert migrate(empty_database_url) == [1, 2]
    with connect(empty_database_url) as conn:
        ensure_tenant(conn, "acme")
        conn.execute("INSERT INTO media (client_id, bucket, key, sku, media_type, status, etag)"
                     " VALUES ('acme', %s, %s, 'sku-1', 'image', 'active', 'e')", (BUCKET, old_key))
    monkeypatch.undo()

    assert 3 in migrate(empty_database_url)

    with PgVectorWriter(empty_database_url) as writer:
        writer.write([hashed(image_key("acme", "sku-2", "after"), unit(1), PHOTO),
                      hashed(image_key("acme", "sku-3", "after"), unit(2), PHOTO)])
    with connect(empty_database_url) as conn:
        assert identical_media(conn, "acme", old_key) == []  # still there, its hash unknown
        assert [g.count for g in identical_groups(conn, "acme")] == [2]
        # The index made on the parent reached the partition that existed before the migration.
        indexed = conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%%(content_sha256)%%'"
                               " AND tablename LIKE 'media_p_%%'").fetchall()
        assert len(indexed) == 1
