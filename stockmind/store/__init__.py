"""The vector store: per-tenant pgvector partitions, an idempotent COPY writer, deletes, search SQL.

Rows step of the data flow (vectors → rows → results). See docs/interfaces.md, "Rows".
"""

from stockmind.store.bulk import build_deferred_indexes, defer_indexes
from stockmind.store.connection import connect
from stockmind.store.lookups import count_embeddings, count_media, embedded_media, stored_vectors
from stockmind.store.migrations import migrate
from stockmind.store.queries import search_vectors
from stockmind.store.records import MediaRemoval, MediaVectors, SearchHit, WriteReport
from stockmind.store.writer import PgVectorWriter

__all__ = [
    "MediaRemoval",
    "MediaVectors",
    "PgVectorWriter",
    "SearchHit",
    "WriteReport",
    "build_deferred_indexes",
    "connect",
    "count_embeddings",
    "count_media",
    "defer_indexes",
    "embedded_media",
    "migrate",
    "search_vectors",
    "stored_vectors",
]
