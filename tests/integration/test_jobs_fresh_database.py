"""Jobs run first against a database nobody has set up: a backfill applies the store's migrations and
embeds everything; where a job may not migrate (a dry run, a user without the rights), it says so in
one line, and the search service names the cause once instead of failing every pooled connection."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from stockmind.backfill.options import BackfillOptions
from stockmind.errors import SchemaNotReady
from stockmind.store import connect, count_embeddings, count_media
from stockmind.store.migrations import pending_migrations
from stockmind.store.schema import MIGRATIONS
from tests.integration.backfill_media import MODEL, upload_catalogue

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The session's embedder actor (tests/integration/conftest.py) may hold a quarter of the cluster's two
# CPUs by now, and a backfill sizes itself from the free ones.
SHARED_CLUSTER_CPUS_PER_ACTOR = 0.25
ALL_VERSIONS = [version for version, _, _ in MIGRATIONS]


def run_backfill(options: BackfillOptions):
    from stockmind.backfill.runner import run_backfill as run  # ray only once the stack's env is set

    return run(options)


@pytest.fixture
def bare_database_url(local_stack) -> str:
    """`CREATE DATABASE` and nothing else: no vector extension, no tables."""
    name = f"test_bare_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_stack.postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield local_stack.postgres.url(name)
    local_stack.postgres.drop_database(name)


@pytest.fixture
def options(local_stack, ray_cluster, bare_database_url):
    def make(**overrides) -> BackfillOptions:
        values = {"database_url": bare_database_url, "bucket": local_stack.bucket, "model": MODEL, "batch_size": 4,
                  "cpus_per_actor": SHARED_CLUSTER_CPUS_PER_ACTOR}
        return BackfillOptions(**{**values, **overrides})

    return make


def test_first_backfill_on_a_bare_database_migrates_it_and_embeds_everything(aws, options, bare_database_url):
    uploaded = upload_catalogue(aws.s3, aws.bucket, "shop-new", images=2)

    summary = run_backfill(options(prefix="clients/shop-new/"))

    assert (summary.listed, summary.embedded, summary.failed) == (len(uploaded), len(uploaded), 0)
    assert pending_migrations(bare_database_url) == []
    with connect(bare_database_url) as conn:
        assert count_media(conn, "shop-new") == len(uploaded)
        assert count_embeddings(conn, "shop-new") == sum(u.frames for u in uploaded)


def test_dry_run_on_a_bare_database_changes_nothing_and_says_to_migrate(aws, options, bare_database_url):
    upload_catalogue(aws.s3, aws.bucket, "shop-dry", images=1, with_video=False)

    with pytest.raises(SchemaNotReady, match=r"lacks migrations \[1.*run `stockmind db migrate`"):
        run_backfill(options(prefix="clients/shop-dry/", dry_run=True))

    assert pending_migrations(bare_database_url) == ALL_VERSIONS
    with psycopg.connect(bare_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone() == (0,)


@pytest.fixture
def unprivileged_url(local_stack, bare_database_url) -> str:
    """The bare database, as a login role that may connect but not create the vector extension."""
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    yield bare_database_url.replace("postgres@", f"{role}@", 1)
    with psycopg.connect(local_stack.postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


BACKFILL_ARGS = ["--prefix", "clients/shop-x/", "--model", MODEL,
                 "--cpus-per-actor", str(SHARED_CLUSTER_CPUS_PER_ACTOR)]
STREAM_ARGS = ["--max-messages", "1", "--idle-exit-s", "1"]


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (["jobs/backfill.py", *BACKFILL_ARGS], "ERROR backfill: cannot apply the store's migrations as database user"),
        (["-m", "stockmind.cli", "backfill", *BACKFILL_ARGS],
         "stockmind: cannot apply the store's migrations as database user"),
        (["jobs/stream.py", *STREAM_ARGS], "ERROR stream: cannot apply the store's migrations as database user"),
    ],
)
def test_a_user_that_may_not_migrate_gets_one_line_and_no_traceback(
        aws, ray_cluster, stack_env, unprivileged_url, command, line):
    env = {**os.environ, "DATABASE_URL": unprivileged_url, "PYTHONPATH": str(REPO)}

    result = subprocess.run([sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)

    output = result.stdout + result.stderr
    assert result.returncode in (1, 2), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    (message,) = [text for text in output.splitlines() if "stockmind db migrate" in text]
    assert line in message
    assert "(permission denied for schema public)" in message  # its first statement, CREATE TABLE
    assert message.endswith("run `stockmind db migrate` as the database owner")


def test_the_search_service_on_a_bare_database_names_the_cause_in_one_line(stack_env, bare_database_url, caplog):
    from stockmind.config import Settings
    from stockmind.service.resources import NotReady, ResourceSlot

    settings = Settings.from_env({**stack_env, "DATABASE_URL": bare_database_url, "STOCKMIND_MODEL": MODEL})
    slot = ResourceSlot()

    slot.load_in_background(settings).join(timeout=60)

    with pytest.raises(NotReady, match=r"lacks migrations \[1.*run `stockmind db migrate`"):
        slot.get()
    (record,) = [r for r in caplog.records if "failed to load its resources" in r.getMessage()]
    assert record.exc_info is None  # no traceback for a cause the operator can read in one line
    assert pending_migrations(bare_database_url) == ALL_VERSIONS  # the service itself migrates nothing
