"""Which models each tenant holds, which one answers its searches, and changing that without downtime.

A tenant *holds* a model from the first vector written with it (its `tenant_indexes` row) until the
model is retired; the stream embeds each upload with every model its tenant holds, so a model being
re-embedded beside the live one misses nothing that arrives meanwhile. The *active* model
(`tenants.active_model_id`) is the one search uses. Activation is one row update under the tenant's
lock, so every query sees the old model or the new one, never a mix; it is refused while the new
model does not cover the tenant's live media, since search would silently miss the rest.

Every refusal raises `ModelChangeRefused` before anything changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql

from stockmind.errors import ModelChangeRefused
from stockmind.store import partitions
from stockmind.store.connection import advisory_key
from stockmind.store.validation import MAX_DIM

_TENANT_MODELS = """
SELECT i.client_id, i.model_id, m.dim, i.state, t.active_model_id IS NOT DISTINCT FROM i.model_id,
       (SELECT count(*) FROM media_models s JOIN media md ON md.client_id = s.client_id AND md.media_id = s.media_id
        WHERE s.client_id = i.client_id AND s.model_id = i.model_id AND md.status = 'active'
          AND s.etag IS NOT DISTINCT FROM md.etag),
       (SELECT coalesce(sum(s.frame_count), 0) FROM media_models s
        WHERE s.client_id = i.client_id AND s.model_id = i.model_id),
       (SELECT count(*) FROM media md WHERE md.client_id = i.client_id AND md.status = 'active')
FROM tenant_indexes i JOIN tenants t USING (client_id) JOIN models m USING (model_id)
WHERE %(client_id)s::text IS NULL OR i.client_id = %(client_id)s
ORDER BY i.client_id, t.active_model_id IS NOT DISTINCT FROM i.model_id DESC, i.model_id
"""


@dataclass(frozen=True)
class TenantModel:
    """One model a tenant holds: how much of the tenant's live media it has embedded, and its index."""

    client_id: str
    model_id: str
    dim: int
    index_state: str  # 'ready' or 'deferred' (a bulk load or reindex has not built it yet)
    active: bool
    objects: int  # live media this model has embedded at their current version
    vectors: int  # its rows: one per image, one per sampled video frame
    live_media: int

    @property
    def coverage(self) -> float:
        """The share of the tenant's live media this model can find (1.0 for a tenant with none)."""
        return 1.0 if self.live_media == 0 else self.objects / self.live_media


def tenant_models(conn: psycopg.Connection, client_id: str | None = None) -> list[TenantModel]:
    """Every (tenant, model) the store holds, or one tenant's; the active model first per tenant."""
    return [TenantModel(*row) for row in conn.execute(_TENANT_MODELS, {"client_id": client_id})]


def tenant_ids(conn: psycopg.Connection) -> list[str]:
    """Every tenant the store has partitions for."""
    return [client_id for (client_id,) in conn.execute("SELECT client_id FROM tenants ORDER BY client_id")]


def active_model(conn: psycopg.Connection, client_id: str) -> str | None:
    """The model that answers the tenant's searches; None for a tenant with no vectors yet."""
    row = conn.execute("SELECT active_model_id FROM tenants WHERE client_id = %s", (client_id,)).fetchone()
    return None if row is None else row[0]


def active_models(conn: psycopg.Connection) -> dict[str, str]:
    """{client_id: active model} of every tenant that has one."""
    return dict(conn.execute("SELECT client_id, active_model_id FROM tenants WHERE active_model_id IS NOT NULL"))


def held_models(conn: psycopg.Connection) -> dict[str, list[str]]:
    """{client_id: the models it holds, the active one first}: what each upload must be embedded with."""
    held: dict[str, list[str]] = {}
    rows = conn.execute(
        "SELECT i.client_id, i.model_id FROM tenant_indexes i JOIN tenants t USING (client_id)"
        " ORDER BY i.client_id, t.active_model_id IS NOT DISTINCT FROM i.model_id DESC, i.model_id"
    )
    for client_id, model_id in rows:
        held.setdefault(client_id, []).append(model_id)
    return held


def hold_model(conn: psycopg.Connection, client_ids: list[str], model_id: str, dim: int) -> list[TenantModel]:
    """Register `model_id` (of `dim` dimensions) as held by existing tenants, with its index deferred
    until the reindex that fills it builds it; from then on the stream embeds their uploads with it
    too. Refused, before any tenant is registered, for a tenant with no media in the store and for a
    model known with another dimension."""
    if not 1 <= dim <= MAX_DIM:
        raise ModelChangeRefused(f"model {model_id!r} makes {dim}-d vectors; the store's HNSW index holds at most"
                                 f" {MAX_DIM} dimensions (pgvector halfvec)")
    missing = [client_id for client_id in client_ids if partitions.registered_suffix(conn, client_id) is None]
    if missing:
        raise ModelChangeRefused(f"tenant {missing[0]!r} has no media in the store: nothing to reindex")
    known = partitions.model_dim(conn, model_id, dim)
    if known != dim:
        raise ModelChangeRefused(
            f"model {model_id!r} makes {dim}-d vectors, but the store holds it as {known}-d"
            " (a different checkpoint under the same name?)")
    for client_id in client_ids:
        partitions.ensure_index(conn, client_id, model_id, dim, defer=True)
    return [m for client_id in client_ids for m in tenant_models(conn, client_id) if m.model_id == model_id]


def activate_model(conn: psycopg.Connection, client_id: str, model_id: str, *, force: bool = False) -> TenantModel:
    """Make `model_id` answer the tenant's searches, in one transaction.

    Refused when the tenant holds no vectors of it, and (unless `force`) while it covers less than
    the tenant's live media or its index is not built yet."""
    with conn.transaction():
        _lock_tenant(conn, client_id)
        held = {m.model_id: m for m in tenant_models(conn, client_id)}
        model = held.get(model_id)
        if model is None or model.vectors == 0:
            raise ModelChangeRefused(
                f"cannot activate {model_id!r} for tenant {client_id!r}: the tenant holds no vectors of it"
                f" (run `stockmind reindex --model {model_id} --client {client_id}` first)")
        if model.active:
            return model
        if not force and model.objects < model.live_media:
            raise ModelChangeRefused(
                f"cannot activate {model_id!r} for tenant {client_id!r}: it covers {model.objects} of the"
                f" tenant's {model.live_media} live media ({model.coverage:.1%}); finish the reindex or pass --force")
        if not force and model.index_state != "ready":
            raise ModelChangeRefused(
                f"cannot activate {model_id!r} for tenant {client_id!r}: its HNSW index is not built yet"
                " (the reindex builds it when it ends); wait for it or pass --force")
        conn.execute("UPDATE tenants SET active_model_id = %s WHERE client_id = %s", (model_id, client_id))
    return tenant_models(conn, client_id)[0]


def retire_model(conn: psycopg.Connection, client_id: str, model_id: str) -> int:
    """Drop the tenant's vectors and index of `model_id`; returns how many vectors went.

    Refused for the tenant's active model and while a reindex with it runs."""
    with conn.transaction():
        _lock_tenant(conn, client_id)
        row = conn.execute(
            "SELECT i.index_name, t.partition_suffix, t.active_model_id FROM tenant_indexes i JOIN tenants t"
            " USING (client_id) WHERE i.client_id = %s AND i.model_id = %s", (client_id, model_id),
        ).fetchone()
        if row is None:
            raise ModelChangeRefused(
                f"cannot retire {model_id!r} for tenant {client_id!r}: the tenant does not hold it")
        index_name, suffix, active = row
        if active == model_id:
            raise ModelChangeRefused(
                f"cannot retire {model_id!r} for tenant {client_id!r}: it is the tenant's active model"
                " (activate another model first)")
        if not _try_reindex_lock(conn, client_id, model_id, transaction=True):
            raise ModelChangeRefused(
                f"cannot retire {model_id!r} for tenant {client_id!r}: a reindex with it is running")
        # The registry row goes first: a stream write holding it (share-locked) finishes before, and
        # one after finds the model gone and drops its vectors; taking the table's locks first could
        # deadlock with such a write.
        conn.execute("DELETE FROM tenant_indexes WHERE client_id = %s AND model_id = %s", (client_id, model_id))
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name)))
        removed = conn.execute(
            sql.SQL("DELETE FROM {} WHERE client_id = %s AND model_id = %s").format(
                sql.Identifier(f"embeddings_p_{suffix}")), (client_id, model_id),
        ).rowcount
        conn.execute("DELETE FROM media_models WHERE client_id = %s AND model_id = %s", (client_id, model_id))
    return removed


@contextlib.contextmanager
def reindex_lock(conn: psycopg.Connection, client_id: str, model_id: str) -> Iterator[None]:
    """Held for the whole of a reindex of (tenant, model) on this session: a second one is refused,
    and so is retiring the model meanwhile. Released when the block ends (or the session does)."""
    if not _try_reindex_lock(conn, client_id, model_id, transaction=False):
        raise ModelChangeRefused(
            f"a reindex of tenant {client_id!r} with {model_id!r} is already running")
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", _reindex_key(client_id, model_id))


def _try_reindex_lock(conn: psycopg.Connection, client_id: str, model_id: str, *, transaction: bool) -> bool:
    function = "pg_try_advisory_xact_lock" if transaction else "pg_try_advisory_lock"
    (taken,) = conn.execute(f"SELECT {function}(%s, %s)", _reindex_key(client_id, model_id)).fetchone()
    return taken


def _reindex_key(client_id: str, model_id: str) -> tuple[int, int]:
    return advisory_key("stockmind.reindex", f"{client_id}\x00{model_id}")


def _lock_tenant(conn: psycopg.Connection, client_id: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
