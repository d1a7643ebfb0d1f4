"""The vector store: per-tenant pgvector partitions, an idempotent COPY writer, deletes, search SQL.

Rows step of the data flow (vectors → rows → results). See docs/interfaces.md, "Rows".
"""

from stockmind.store.api_keys import (
    ApiKey,
    StoredKey,
    active_key_digest,
    insert_api_key,
    list_api_keys,
    revoke_api_key,
    set_api_key_limit,
)
from stockmind.store.bulk import build_deferred_indexes, defer_indexes
from stockmind.store.connection import connect, connection_pool
from stockmind.store.duplicates import identical_groups, identical_media, near_media
from stockmind.store.lookups import (
    count_embeddings,
    count_media,
    embedded_media,
    is_searchable,
    storage_bytes,
    stored_vectors,
)
from stockmind.store.migrations import is_migrated, migrate
from stockmind.store.queries import ranked_keys, search_page, search_vectors
from stockmind.store.ranking import PageSpec, Position, RankedGroup, RankedPage
from stockmind.store.records import (
    IdenticalGroup,
    MediaRemoval,
    MediaVectors,
    SearchHit,
    StoredMedia,
    WriteReport,
)
from stockmind.store.tenant_models import (
    TenantModel,
    activate_model,
    active_model,
    active_models,
    held_models,
    reindex_lock,
    retire_model,
    tenant_models,
)
from stockmind.store.writer import PgVectorWriter

__all__ = [
    "ApiKey",
    "IdenticalGroup",
    "MediaRemoval",
    "MediaVectors",
    "PageSpec",
    "PgVectorWriter",
    "Position",
    "RankedGroup",
    "RankedPage",
    "SearchHit",
    "StoredKey",
    "StoredMedia",
    "TenantModel",
    "WriteReport",
    "activate_model",
    "active_key_digest",
    "active_model",
    "active_models",
    "build_deferred_indexes",
    "connect",
    "connection_pool",
    "count_embeddings",
    "count_media",
    "defer_indexes",
    "embedded_media",
    "held_models",
    "identical_groups",
    "identical_media",
    "insert_api_key",
    "is_migrated",
    "is_searchable",
    "list_api_keys",
    "migrate",
    "near_media",
    "ranked_keys",
    "reindex_lock",
    "retire_model",
    "revoke_api_key",
    "search_page",
    "search_vectors",
    "set_api_key_limit",
    "storage_bytes",
    "stored_vectors",
    "tenant_models",
]
