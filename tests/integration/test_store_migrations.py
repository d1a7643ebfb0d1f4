"""Versioned migrations on a real PostgreSQL: idempotent, and safe when several processes migrate at once."""

import threading

from stockmind.store import connect, is_migrated, list_api_keys, migrate
from stockmind.store.schema import MIGRATIONS

VERSIONS = [version for version, _, _ in MIGRATIONS]


def test_migrating_twice_applies_nothing_the_second_time(database_url):
    assert migrate(database_url) == []


def test_migrate_reports_what_it_applied_on_a_fresh_database(empty_database_url):
    assert migrate(empty_database_url) == VERSIONS
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
    assert migrate(empty_database_url) == VERSIONS
    with connect(empty_database_url) as conn:
        assert [key.key_id for key in list_api_keys(conn)] == ["k"]


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

    assert sorted(results) == [[], [], VERSIONS]
