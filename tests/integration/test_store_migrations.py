"""Versioned migrations on a real PostgreSQL: idempotent, and safe when several processes migrate at once."""

import threading

import psycopg
import pytest

from stockmind.store import connect, insert_api_key, is_migrated, list_api_keys, migrate
from stockmind.store.schema import MIGRATIONS
from stockmind.store.service_secrets import service_secret

ALL = [version for version, _, _ in MIGRATIONS]


def test_migrating_twice_applies_nothing_the_second_time(database_url):
    assert migrate(database_url) == []


def test_migrate_reports_what_it_applied_on_a_fresh_database(empty_database_url):
    assert migrate(empty_database_url) == ALL
    assert migrate(empty_database_url) == []


def test_a_database_is_migrated_only_once_every_migration_is_applied(empty_database_url):
    with connect(empty_database_url) as conn:
        assert not is_migrated(conn)  # no schema_migrations table yet
        migrate(empty_database_url)
        assert is_migrated(conn)
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (MIGRATIONS[-1][0],))
        assert not is_migrated(conn)


def test_the_api_keys_migration_adopts_a_table_the_service_created_before_it(empty_database_url):
    with connect(empty_database_url) as conn:
        conn.execute(MIGRATIONS[1][2])  # what the service ran at start before migration 2 existed
        conn.execute("INSERT INTO api_keys (key_id, client_id, token_sha256) VALUES ('k', 'acme', '')")
    assert migrate(empty_database_url) == ALL
    with connect(empty_database_url) as conn:
        assert [key.key_id for key in list_api_keys(conn)] == ["k"]


def test_each_database_gets_its_own_random_cursor_key(local_stack, database_url):
    other_url = local_stack.postgres.create_database("test_cursor_key_other")
    try:
        migrate(other_url)
        with connect(database_url) as one, connect(other_url) as other:
            keys = service_secret(one, "cursor"), service_secret(other, "cursor")
    finally:
        local_stack.postgres.drop_database("test_cursor_key_other")
    assert len(keys[0]) == 32 and keys[0] != keys[1]


def test_concurrent_migrations_apply_each_version_once(empty_database_url):
    results, barrier = [], threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        results.append(migrate(empty_database_url))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [[], [], ALL]


def test_the_rate_limit_migration_keeps_existing_keys_on_the_defaults(empty_database_url):
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        for _, _, sql in MIGRATIONS[:2]:  # the schema before per-key limits
            conn.execute(sql)
        conn.execute("INSERT INTO api_keys (key_id, client_id, token_sha256) VALUES ('old', 'acme', '')")
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'a'), (2, 'b')")
    assert 4 in migrate(empty_database_url)
    with connect(empty_database_url) as conn:
        (old,) = list_api_keys(conn)
        assert (old.key_id, old.rate_per_s, old.burst) == ("old", None, None)


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1.0, None), (float("nan"), None), (float("inf"), None),
                                             (None, 0)])
def test_the_database_refuses_unusable_rate_limits(database_url, rate, burst):
    with connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        insert_api_key(conn, "k", "acme", b"", rate_per_s=rate, burst=burst)
