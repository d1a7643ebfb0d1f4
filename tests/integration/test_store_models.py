"""Several models per object, a per-tenant active model, and its lifecycle, against a real PostgreSQL."""

import psycopg
import pytest

from stockmind.errors import ModelChangeRefused
from stockmind.store import (
    PgVectorWriter,
    activate_model,
    active_model,
    connect,
    embedded_media,
    held_models,
    migrate,
    reindex_lock,
    retire_model,
    search_vectors,
    tenant_models,
)
from stockmind.store.schema import MIGRATIONS
from stockmind.store.tenant_models import hold_model
from tests.integration.store_factories import BUCKET, MODEL, image_key, media, removal, unit, video_key

NEW = "new-model"
NEW_DIM = 24


def vector_counts(conn, key: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT e.model_id, count(*) FROM embeddings e JOIN media m USING (client_id, media_id)"
        " WHERE m.key = %s GROUP BY 1", (key,),
    ).fetchall()
    return dict(rows)


def models_of(conn, client_id: str) -> dict[str, tuple]:
    return {m.model_id: (m.objects, m.live_media, m.vectors, m.index_state, m.active)
            for m in tenant_models(conn, client_id)}


def test_a_second_model_adds_its_vectors_beside_the_first_and_changes_nothing_else(writer, conn):
    key = video_key("acme", "s1", "clip")
    writer.write([media(key, [unit(1), unit(2)], timestamps=[0.0, 1.0])])

    second = media(key, [unit(3, NEW_DIM), unit(4, NEW_DIM)], timestamps=[0.0, 1.0], model=NEW)
    report = writer.write([second])

    assert (report.stored, report.rows) == (1, 2)
    assert vector_counts(conn, key) == {MODEL: 2, NEW: 2}
    (revision,) = conn.execute("SELECT revision FROM media WHERE key = %s", (key,)).fetchone()
    assert revision == 1  # the object did not change
    # The first model stays active, the new one is held beside it.
    assert active_model(conn, "acme") == MODEL
    assert held_models(conn) == {"acme": [MODEL, NEW]}
    assert writer.write([second]).stored == 0  # a replay


def test_one_batch_may_carry_an_object_once_per_model(database_url, conn):
    key = image_key("acme", "s1", "a")
    with PgVectorWriter(database_url, bulk=True) as bulk:
        report = bulk.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])
    assert (report.stored, report.unchanged, report.stored_keys) == (2, 0, [key])
    assert vector_counts(conn, key) == {MODEL: 1, NEW: 1}


def test_a_new_version_drops_every_models_vectors_of_the_old_bytes(writer, conn):
    key = image_key("acme", "s1", "a")
    writer.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])

    writer.write([media(key, unit(5), etag="etag-2", seconds=10)])

    assert vector_counts(conn, key) == {MODEL: 1}
    assert set(embedded_media(conn, model_id=NEW)) == set()
    assert models_of(conn, "acme")[NEW][:2] == (0, 1)


def test_a_forced_re_embedding_replaces_only_its_own_models_vectors(database_url, writer, conn):
    key = image_key("acme", "s1", "a")
    writer.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])

    with PgVectorWriter(database_url, replace=True) as forced:
        assert forced.write([media(key, unit(9))]).stored == 1

    assert vector_counts(conn, key) == {MODEL: 1, NEW: 1}
    hits = search_vectors(conn, "acme", unit(9), k=1)
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_a_delete_removes_every_models_vectors(writer, conn):
    key = image_key("acme", "s1", "a")
    writer.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])
    writer.delete([removal(key, seconds=10)])
    assert vector_counts(conn, key) == {}
    assert conn.execute("SELECT count(*) FROM media_models").fetchone() == (0,)


def test_models_list_counts_coverage_of_the_live_media(writer, conn):
    keys = [image_key("acme", "s1", name) for name in "abc"]
    writer.write([media(key, unit(n)) for n, key in enumerate(keys)])
    writer.write([media(keys[0], unit(7, NEW_DIM), model=NEW)])
    writer.delete([removal(keys[2], seconds=10)])

    assert models_of(conn, "acme") == {MODEL: (2, 2, 2, "ready", True), NEW: (1, 2, 1, "ready", False)}
    (new,) = [m for m in tenant_models(conn, "acme") if m.model_id == NEW]
    assert new.coverage == pytest.approx(0.5)


def test_activation_is_refused_until_the_model_covers_the_tenant_then_switches_search(writer, conn):
    keys = [image_key("acme", "s1", name) for name in "ab"]
    writer.write([media(key, unit(n)) for n, key in enumerate(keys)])
    with pytest.raises(ModelChangeRefused, match="holds no vectors of it"):
        activate_model(conn, "acme", NEW)
    writer.write([media(keys[0], unit(7, NEW_DIM), model=NEW)])
    with pytest.raises(ModelChangeRefused, match="covers 1 of the tenant's 2 live media"):
        activate_model(conn, "acme", NEW)
    assert active_model(conn, "acme") == MODEL

    writer.write([media(keys[1], unit(8, NEW_DIM), model=NEW)])
    switched = activate_model(conn, "acme", NEW)

    assert (switched.model_id, switched.active) == (NEW, True)
    assert active_model(conn, "acme") == NEW
    # Search without a model named follows the tenant's active model (and its dimension).
    assert search_vectors(conn, "acme", unit(8, NEW_DIM), k=1)[0].key == keys[1]


def test_activation_waits_for_the_index_unless_forced(writer, conn):
    key = image_key("acme", "s1", "a")
    writer.write([media(key, unit(1))])
    hold_model(conn, ["acme"], NEW, NEW_DIM)  # as a reindex registers it: index deferred
    writer.write([media(key, unit(2, NEW_DIM), model=NEW)])
    with pytest.raises(ModelChangeRefused, match="index is not built"):
        activate_model(conn, "acme", NEW)
    assert activate_model(conn, "acme", NEW, force=True).active


def test_retire_is_refused_for_the_active_model_and_drops_the_others(writer, conn):
    key = image_key("acme", "s1", "a")
    writer.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])
    with pytest.raises(ModelChangeRefused, match="active model"):
        retire_model(conn, "acme", MODEL)
    (index_name,) = conn.execute("SELECT index_name FROM tenant_indexes WHERE model_id = %s", (NEW,)).fetchone()

    assert retire_model(conn, "acme", NEW) == 1

    assert vector_counts(conn, key) == {MODEL: 1}
    assert held_models(conn) == {"acme": [MODEL]}
    assert conn.execute("SELECT to_regclass(%s)", (index_name,)).fetchone() == (None,)
    with pytest.raises(ModelChangeRefused, match="does not hold it"):
        retire_model(conn, "acme", NEW)


def test_a_second_reindex_of_the_same_tenant_and_model_is_refused(database_url, writer, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1)), media(image_key("acme", "s1", "a"),
                                                                      unit(2, NEW_DIM), model=NEW)])
    with connect(database_url) as other, reindex_lock(conn, "acme", NEW):
        with pytest.raises(ModelChangeRefused, match="already running"):
            with reindex_lock(other, "acme", NEW):
                pass
        with reindex_lock(other, "acme", MODEL):  # another model of the tenant is independent
            pass
        with pytest.raises(ModelChangeRefused, match="a reindex with it is running"):
            retire_model(other, "acme", NEW)
    with reindex_lock(conn, "acme", NEW):  # released when the first one ended
        pass


def test_holding_a_model_checks_every_tenant_and_the_dimension_before_registering_any(writer, conn):
    writer.write([media(image_key("acme", "s1", "a"), unit(1))])
    with pytest.raises(ModelChangeRefused, match="'nobody' has no media in the store"):
        hold_model(conn, ["acme", "nobody"], NEW, NEW_DIM)
    assert held_models(conn) == {"acme": [MODEL]}  # acme was not registered either
    with pytest.raises(ModelChangeRefused, match="makes 32-d vectors, but the store holds it as 16-d"):
        hold_model(conn, ["acme"], MODEL, 32)


def test_the_model_migration_moves_existing_data_in_place(empty_database_url):
    """A database written before vectors were keyed by model keeps its vectors, gains each object's
    model record and an active model per tenant."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        for _, _, sql in MIGRATIONS[:5]:
            conn.execute(sql)
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'),"
                     " (5, 'e')")
        conn.execute("CREATE TABLE media_p_acme PARTITION OF media FOR VALUES IN ('acme')")
        conn.execute("CREATE TABLE embeddings_p_acme PARTITION OF embeddings FOR VALUES IN ('acme')")
        conn.execute("INSERT INTO models VALUES ('old-model', 3)")
        conn.execute("INSERT INTO tenants (client_id, partition_suffix) VALUES ('acme', 'acme')")
        conn.execute("INSERT INTO tenant_indexes VALUES ('acme', 'old-model', 'idx_acme', 'deferred')")
        conn.execute("INSERT INTO media (client_id, media_id, bucket, key, sku, media_type, status, etag, model_id,"
                     " frame_count) VALUES ('acme', 1, %s, 'k1', 's', 'image', 'active', 'e1', 'old-model', 1),"
                     " ('acme', 2, %s, 'k2', 's', 'image', 'deleted', NULL, NULL, 0)", (BUCKET, BUCKET))
        conn.execute("INSERT INTO embeddings VALUES ('acme', 1, 0, NULL, 's', 'image', 'old-model', '[1,0,0]')")

    assert 6 in migrate(empty_database_url)

    with connect(empty_database_url) as conn:
        assert active_model(conn, "acme") == "old-model"
        assert conn.execute("SELECT media_id, model_id, etag, frame_count FROM media_models").fetchall() == [
            (1, "old-model", "e1", 1)]
        assert models_of(conn, "acme") == {"old-model": (1, 1, 1, "deferred", True)}
        assert embedded_media(conn, model_id="old-model") == {(BUCKET, "k1"): "e1"}


def test_a_stream_writer_does_not_bring_a_retired_model_back(database_url, writer, conn):
    key, later = image_key("acme", "s1", "a"), image_key("acme", "s1", "b")
    writer.write([media(key, unit(1)), media(key, unit(2, NEW_DIM), model=NEW)])
    retire_model(conn, "acme", NEW)

    with PgVectorWriter(database_url, new_models=False) as stream:
        report = stream.write([media(later, unit(3)), media(later, unit(4, NEW_DIM), model=NEW)])
        first = stream.write([media(image_key("initech", "s1", "a"), unit(5, NEW_DIM), model=NEW)])

    assert (report.stored, report.unchanged) == (1, 1)
    assert vector_counts(conn, later) == {MODEL: 1}
    assert held_models(conn) == {"acme": [MODEL], "initech": [NEW]}  # a new tenant's first model is registered
    assert first.stored == 1
