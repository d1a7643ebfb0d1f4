"""Run one backfill on the Ray cluster this process is connected to, and say what it did."""

from __future__ import annotations

import logging
import time

import ray

from stockmind.backfill import pipeline
from stockmind.backfill.inventory import manifest_shards
from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.report import BackfillSummary, write_failure_report
from stockmind.backfill.sources import Shard, StoredMediaShard, client_ids_of, key_list_shards, prefix_shards
from stockmind.backfill.tally import Tally
from stockmind.errors import SchemaNotReady
from stockmind.logs import configure_logging
from stockmind.store import build_deferred_indexes, defer_indexes, migrate
from stockmind.store.migrations import pending_migrations

log = logging.getLogger(__name__)


def run_backfill(options: BackfillOptions) -> BackfillSummary:
    configure_logging("backfill")  # the driver's records; the workers' come from jobs/backfill.py's hook
    pipeline.check_resources(options)
    prepare_store(options)
    summary = embed_pass(options)
    if not options.dry_run:
        built = build_deferred_indexes(options.database_url)
        log.info("built %d deferred HNSW indexes", len(built))
    return summary


def embed_pass(options: BackfillOptions) -> BackfillSummary:
    """One run of the pipeline over the source: list, skip what is embedded, embed and write the rest.
    The indexes it deferred are left for the caller to build."""
    started = time.monotonic()
    shards = plan_shards(options)
    tally = ray.remote(num_cpus=0)(Tally).remote()
    if options.dry_run:
        to_embed = pipeline.keys_to_embed(shards, options, tally).count()
        return _summarise(tally, options, started, to_embed=to_embed)
    if options.defer_indexes:
        defer_indexes(options.database_url, client_ids_of(shards))
    embedded = unchanged = frames = 0
    for batch in pipeline.backfill(shards, options, tally).iter_batches(batch_size=None, batch_format="numpy"):
        stored = batch["stored"].astype(bool)
        embedded += int(stored.sum())
        unchanged += int((~stored).sum())
        frames += int(batch["frames"][stored].sum())
    return _summarise(tally, options, started, embedded=embedded, unchanged=unchanged, frames=frames)


def prepare_store(options: BackfillOptions) -> None:
    """Apply the store's pending migrations, as the stream does, so a first run on a new database works.

    A dry run changes nothing, so it only says what is missing."""
    if not options.dry_run:
        migrate(options.database_url)
        return
    pending = pending_migrations(options.database_url)
    if pending:
        raise SchemaNotReady(f"the database lacks migrations {pending}, and a dry run changes nothing: "
                             "run `stockmind db migrate` (or a backfill without --dry-run)")


def plan_shards(options: BackfillOptions) -> list[Shard]:
    if options.stored_clients:
        return [StoredMediaShard(options.database_url, client_id, options.changed_since)
                for client_id in options.stored_clients]
    if options.manifest is not None:
        return manifest_shards(options.manifest, options.prefix or "")
    if options.keys_file is not None:
        return key_list_shards(options.bucket, options.keys_file)
    return prefix_shards(options.bucket, options.prefix)


def _summarise(tally, options: BackfillOptions, started: float, **done) -> BackfillSummary:
    counts, failures = ray.get([tally.counts.remote(), tally.failures.remote()])
    summary = BackfillSummary(listed=counts.get("listed", 0), skipped=counts.get("skipped", 0),
                              embedded=done.get("embedded", 0), unchanged=done.get("unchanged", 0),
                              failed=len(failures), frames=done.get("frames", 0),
                              seconds=time.monotonic() - started, dry_run=options.dry_run,
                              to_embed=done.get("to_embed", 0))
    if options.report is not None:
        write_failure_report(options.report, failures)
    for failure in failures[:20]:
        log.warning("failed: s3://%s/%s: %s: %s", failure.bucket, failure.key, failure.reason, failure.detail)
    ray.kill(tally)
    return summary
