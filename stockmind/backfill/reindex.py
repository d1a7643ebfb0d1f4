"""Reindex: embed what the store holds for a tenant with another model, beside the live one.

The backfill's pipeline (GET, decode, embed, write) with the store's live media as its source, so
what gets embedded is exactly what search can find today. The run, per tenant:

1. the model's checkpoint is loaded once here: a model that fails to load, or whose vectors the
   store cannot index (over 4000 dimensions), stops the run before anything changes;
2. the tenant's reindex lock for this model is taken (a second reindex of the same pair is refused);
3. the model is registered as held by the tenant, its index deferred: from the stream's next
   refresh on, every upload of the tenant is embedded with it too;
4. a full pass over the tenant's live media, skipping what the model already has (a rerun resumes);
5. catch-up passes over the media changed since the previous pass began, for uploads the stream
   wrote before it noticed the model, until a pass embeds nothing;
6. the model's HNSW index is built.

Search keeps using the tenant's active model throughout; `stockmind models activate` switches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass

from stockmind.backfill import pipeline
from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.report import BackfillSummary
from stockmind.backfill.runner import embed_pass
from stockmind.logs import configure_logging
from stockmind.store import (
    TenantModel,
    build_deferred_indexes,
    connect,
    migrate,
    reindex_lock,
    tenant_models,
)
from stockmind.store.lookups import database_time
from stockmind.store.tenant_models import hold_model

log = logging.getLogger(__name__)

# Each catch-up pass re-reads only what changed during the one before; uploads stop lacking the
# model once the stream has refreshed (seconds), so more than a few passes means something is wrong.
MAX_CATCH_UP_PASSES = 3


@dataclass(frozen=True)
class ReindexSummary:
    model_id: str
    passes: list[BackfillSummary]
    tenants: list[TenantModel]

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.passes)

    def lines(self) -> list[str]:
        lines = [f"pass {n}: {p.line().removeprefix('backfill: ')}" for n, p in enumerate(self.passes, 1)]
        lines += [f"reindex {t.model_id}: tenant {t.client_id}: covers {t.objects} of {t.live_media} live media"
                  f" ({t.coverage:.1%}), {t.vectors} vectors, index {t.index_state}"
                  f"{', active' if t.active else ''}" for t in self.tenants]
        return lines


def run_reindex(options: BackfillOptions) -> ReindexSummary:
    """Re-embed the live media of `options.stored_clients` with `options.model` (see the module doc)."""
    configure_logging("reindex")
    clients = list(options.stored_clients)
    pipeline.check_resources(options)
    migrate(options.database_url)
    dim = checkpoint_dim(options.model)
    with connect(options.database_url) as conn, contextlib.ExitStack() as locks:
        for client_id in clients:
            locks.enter_context(reindex_lock(conn, client_id, options.model))
        hold_model(conn, clients, options.model, dim)
        passes = []
        since = None
        for _ in range(1 + MAX_CATCH_UP_PASSES):
            started = database_time(conn)
            passes.append(embed_pass(dataclasses.replace(options, changed_since=since)))
            log.info("reindex pass %d: %s", len(passes), passes[-1].line())
            if passes[-1].embedded == 0 and since is not None:
                break
            since = started
        built = build_deferred_indexes(options.database_url, only=[(c, options.model) for c in clients])
        log.info("built %d HNSW indexes for %s", len(built), options.model)
        held = [m for c in clients for m in tenant_models(conn, c) if m.model_id == options.model]
    return ReindexSummary(options.model, passes, held)


def checkpoint_dim(model: str) -> int:
    """The dimension of the model's vectors; loading it here also turns a model that cannot load
    into one clear error before any tenant is touched."""
    from stockmind.embed.embedder import ClipEmbedder

    return ClipEmbedder(model, device="cpu").dim
