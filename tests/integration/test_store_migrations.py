"""Versioned migrations on a real PostgreSQL: idempotent, and safe when several processes migrate at once."""

import threading

from stockmind.store import migrate


def test_migrating_twice_applies_nothing_the_second_time(database_url):
    assert migrate(database_url) == []


def test_migrate_reports_what_it_applied_on_a_fresh_database(empty_database_url):
    assert migrate(empty_database_url) == [1]
    assert migrate(empty_database_url) == []


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

    assert sorted(results) == [[], [], [1]]
