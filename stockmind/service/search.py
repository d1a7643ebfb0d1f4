"""Query logic: a query (text, image, stored examples) → one vector → a page of the tenant's nearest
media or products.

The last step of the data flow (rows → results). Each query is answered by its tenant's active
model (`store.active_model`; the default model for a tenant with no vectors yet): the same
`ClipEmbedder` and `ImagePreprocessor` that index the media embed the query's parts, `combine`
makes them one vector, `store.search_page` searches that model's vectors in the tenant's own
partition, and every hit gets a presigned S3 URL (the bucket blocks public access). The HTTP service
and the `stockmind search` command both call `Searcher`; neither knows SQL or CLIP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg

from stockmind.config import Settings
from stockmind.errors import InvalidMediaKey, MediaMissing, MediaTooLarge, StockmindError, UndecodableMedia
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import presigned_url, read_object, s3_client
from stockmind.media.types import MediaType
from stockmind.service.combine import EmptyQuery, combine, mean_direction
from stockmind.service.cursors import CursorSigner, InvalidCursor
from stockmind.service.query import Product, SearchPage, SearchQuery, SearchResult
from stockmind.service.query_models import ModelUnavailable, QueryModel, QueryModels
from stockmind.service.text_vectors import TextVectors
from stockmind.store import PageSpec, RankedPage, active_model, search_page, stored_vectors
from stockmind.store.service_secrets import service_secret

log = logging.getLogger(__name__)

URL_TTL_S = 3600
MAX_QUERY_CHARS = 1000
# How deep paging goes (media, or products): past it a page carries no next_cursor. The store reads
# at most its MAX_PAGE_FETCH rows from the top for a page, which this depth stays well within.
PAGING_DEPTH = 1000
__all__ = ["Filters", "ModelUnavailable", "Product", "SearchPage", "SearchQuery", "SearchResult", "Searcher",
           "Timings"]


class MediaNotFound(StockmindError):
    """The key names no media of the caller's tenant (another tenant's key reads the same)."""


# What one query of a batch may fail with alone (the caller's input): the others are still answered.
QUERY_ERRORS = (MediaNotFound, InvalidMediaKey, InvalidCursor, EmptyQuery, UndecodableMedia, MediaTooLarge)


@dataclass(frozen=True)
class Filters:
    """The plain form of a query's paging and filters (`by_text`, `by_image`, `like_media`)."""

    k: int = 10
    sku: str | None = None
    media_type: MediaType | None = None


@dataclass
class Timings:
    """Where a query's time went, for the Server-Timing header and bench/search.py."""

    embed_s: float = 0.0
    sql_s: float = 0.0
    presign_s: float = 0.0

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - start)


class Presigner:
    """Presigned GET URLs; boto3 takes the endpoint from AWS_ENDPOINT_URL (the local stack) or AWS."""

    def __init__(self, region: str, ttl_s: int = URL_TTL_S, s3=None):
        self.s3 = s3 or s3_client(region)
        self._ttl_s = ttl_s

    def url(self, bucket: str, key: str) -> str:
        return presigned_url(self.s3, bucket, key, self._ttl_s)


class Searcher:
    """Search over one tenant's media with its own model: any mix of text, image and examples."""

    def __init__(self, models: QueryModels, presigner: Presigner, settings: Settings):
        self.models = models
        self._presigner = presigner
        self._settings = settings
        self._texts = TextVectors()
        self._cursors: CursorSigner | None = None

    @classmethod
    def from_settings(cls, settings: Settings, embedder=None) -> Searcher:
        """Load the default model, STOCKMIND_MODEL (or reuse `embedder`); the tenants' other models
        load when `models.ensure` or a query asks for them."""
        default = QueryModel.load(settings.model, settings, embedder)
        models = QueryModels(lambda model_id: QueryModel.load(model_id, settings), default)
        return cls(models, Presigner(settings.aws_region), settings)

    # The default model's: what a tenant with no vectors yet is searched with (and what tools that
    # index and search with one model use).
    @property
    def model_id(self) -> str:
        return self.models.default.model_id

    @property
    def embedder(self):
        return self.models.default.embedder

    @property
    def preprocessor(self):
        return self.models.default.preprocessor

    def model_id_of(self, conn: psycopg.Connection, client_id: str, timings: Timings | None = None) -> str:
        """The model that answers the tenant now: read per query (one indexed row), so that after an
        activation the next query uses the new model."""
        with (timings or Timings()).measure("sql_s"):
            return active_model(conn, client_id) or self.model_id

    def model_for(self, conn: psycopg.Connection, client_id: str) -> QueryModel:
        """The tenant's model, loaded; `ModelUnavailable` if it cannot be."""
        return self.models.get(self.model_id_of(conn, client_id))

    # ----- embeddings ---------------------------------------------------------------------------

    def embed_text(self, text: str, model: QueryModel | None = None) -> np.ndarray:
        return self._texts.get((model or self.models.default).embedder, normalised_query(text))

    def embed_texts(self, texts: Sequence[str], model: QueryModel | None = None) -> list[np.ndarray]:
        """Several texts in one forward pass (those not cached)."""
        return self._texts.get_many((model or self.models.default).embedder,
                                    [normalised_query(text) for text in texts])

    def embed_image(self, data: bytes, model: QueryModel | None = None) -> np.ndarray:
        """Raises `UndecodableMedia` / `DecompressionBomb` for bytes that are not an acceptable image."""
        return (model or self.models.default).embed_image(data)

    def query_vector(self, conn: psycopg.Connection, client_id: str, query: SearchQuery, model: QueryModel,
                     text_vector: np.ndarray | None = None) -> np.ndarray:
        """The query's parts combined into one unit vector (`combine`) in `model`'s space;
        `text_vector` is the text's, when the caller embedded it already (a batch)."""
        if text_vector is None and query.text is not None:
            text_vector = self.embed_text(query.text, model)
        if query.image is not None:
            image = self.embed_image(query.image, model)
        else:
            image = None if query.image_key is None else self.media_vector(conn, client_id, query.image_key, model)
        return combine(text=text_vector, image=image,
                       positive=[self.media_vector(conn, client_id, key, model) for key in query.positive],
                       negative=[self.media_vector(conn, client_id, key, model) for key in query.negative],
                       weights=query.weights)

    # ----- searches -----------------------------------------------------------------------------

    def search(self, conn: psycopg.Connection, client_id: str, query: SearchQuery,
               timings: Timings | None = None) -> SearchPage:
        """One page of `query`'s answer, by the tenant's active model (the page names it). Raises one
        of `QUERY_ERRORS` for bad input (a foreign or unknown key, a cursor not of this query or of
        another model, an empty query, an undecodable image), `ModelUnavailable` if the model cannot
        be loaded."""
        timings = timings or Timings()
        return self.search_with(conn, client_id, self.model_id_of(conn, client_id, timings), query, timings)

    def search_with(self, conn: psycopg.Connection, client_id: str, model_id: str, query: SearchQuery,
                    timings: Timings | None = None, *, text_vector: np.ndarray | None = None) -> SearchPage:
        """`search` with `model_id`, resolved by the caller (a batch resolves it once for all its queries)."""
        if not 1 <= query.k <= self._settings.search_max_k:
            raise ValueError(f"k must be between 1 and {self._settings.search_max_k}, got {query.k}")
        timings = timings or Timings()
        # The cursor first: a foreign, damaged or other model's one is refused before any load or
        # embedding is paid for.
        digest = query.digest()
        after = None if query.cursor is None else self._signer(conn).open(query.cursor, client_id, digest,
                                                                          model_id=model_id)
        model = self.models.get(model_id)
        with timings.measure("embed_s"):
            vector = self.query_vector(conn, client_id, query, model, text_vector)
        grouped = query.group == "sku"
        spec = PageSpec(k=query.k, group_by_sku=grouped, per_group=query.per_group if grouped else 1,
                        min_score=query.min_score, exclude_keys=query.example_keys, after=after)
        with timings.measure("sql_s"):
            # The model named, not left to the store: the vectors searched are the model's that
            # embedded the query, even if the tenant's activation changed since `model_id_of`.
            ranked = search_page(conn, client_id, vector, spec, skus=query.skus, media_type=query.media_type,
                                 model_id=model.model_id)
        end = ranked.end(spec)
        next_cursor = None
        if end is not None and end.depth < PAGING_DEPTH:
            next_cursor = self._signer(conn).seal(client_id, digest, end, model_id=model.model_id)
        with timings.measure("presign_s"):
            return self._page(ranked, grouped, next_cursor, model.model_id)

    def search_many(self, conn: psycopg.Connection, client_id: str, queries: Sequence[SearchQuery],
                    timings: Timings | None = None) -> list[SearchPage | StockmindError]:
        """Each query's page, in order, or the error of its own input (one of `QUERY_ERRORS`); the
        texts of all of them are embedded in one forward pass, all by the one model resolved for the
        batch (`ModelUnavailable` for the whole batch if it cannot be loaded)."""
        timings = timings or Timings()
        model_id = self.model_id_of(conn, client_id, timings)
        texts = [query.text for query in queries if query.text is not None]
        with timings.measure("embed_s"):
            vectors = iter(self.embed_texts(texts, self.models.get(model_id)))
        answers: list[SearchPage | StockmindError] = []
        for query in queries:
            try:
                answers.append(self.search_with(conn, client_id, model_id, query, timings,
                                                text_vector=None if query.text is None else next(vectors)))
            except QUERY_ERRORS as error:
                answers.append(error)
        return answers

    def by_text(self, conn: psycopg.Connection, client_id: str, text: str, filters: Filters,
                timings: Timings | None = None) -> list[SearchResult]:
        return self.search(conn, client_id, _plain(filters, text=text), timings).results

    def by_image(self, conn: psycopg.Connection, client_id: str, data: bytes, filters: Filters,
                 timings: Timings | None = None) -> list[SearchResult]:
        return self.search(conn, client_id, _plain(filters, image=data), timings).results

    def like_media(self, conn: psycopg.Connection, client_id: str, key: str, filters: Filters,
                   timings: Timings | None = None) -> list[SearchResult]:
        """"More like this": media of the tenant close to its media `key`, the key itself left out."""
        return self.search(conn, client_id, _plain(filters, image_key=key), timings).results

    def _page(self, ranked: RankedPage, grouped: bool, next_cursor: str | None, model_id: str) -> SearchPage:
        if grouped:
            products = [Product(group.key, group.score, [self._result(hit) for hit in group.hits])
                        for group in ranked.groups]
            return SearchPage(products=products, next_cursor=next_cursor, model_id=model_id)
        return SearchPage(results=[self._result(group.hits[0]) for group in ranked.groups], next_cursor=next_cursor,
                          model_id=model_id)

    def _result(self, hit) -> SearchResult:
        return SearchResult(hit.key, hit.sku, hit.media_type, hit.score, hit.timestamp_s, self.url(hit.bucket, hit.key))

    def url(self, bucket: str, key: str) -> str:
        """A presigned GET URL of a stored object, as every result carries."""
        return self._presigner.url(bucket, key)

    def _signer(self, conn: psycopg.Connection) -> CursorSigner:
        if self._cursors is None:
            self._cursors = CursorSigner(service_secret(conn, "cursor"))
        return self._cursors

    # ----- stored media as query parts ----------------------------------------------------------

    def media_vector(self, conn: psycopg.Connection, client_id: str, key: str, model: QueryModel) -> np.ndarray:
        """The tenant's media `key` as one query vector of `model`: its stored embedding (a video's
        frames averaged), or, if it is in the bucket but not indexed by `model` yet, embedded now."""
        ref = parse_media_key(key)  # InvalidMediaKey for anything outside the layout
        if ref.client_id != client_id:
            # The same answer as a missing key: a tenant learns nothing about another's media.
            raise MediaNotFound(f"no media {key!r} for this client")
        vectors = stored_vectors(conn, client_id, key, model_id=model.model_id, bucket=self._settings.s3_bucket_name)
        if vectors:
            return mean_direction(np.stack([np.asarray(vector.to_numpy(), np.float32) for vector in vectors]))
        return self._embed_stored_object(ref, model)

    def _embed_stored_object(self, ref, model: QueryModel) -> np.ndarray:
        """Embeds during the request, so the object is held to the upload limit
        (STOCKMIND_MAX_UPLOAD_BYTES, not the pipelines' STOCKMIND_MAX_OBJECT_BYTES): `MediaTooLarge`
        (413) before its body is read."""
        from stockmind.decode.prepare import prepare_media

        bucket = self._settings.s3_bucket_name
        if bucket is None:
            raise MediaNotFound(f"no media {ref.key!r} for this client")
        data = self._download(bucket, ref.key)
        prepared = prepare_media(ref.media_type, data, model.preprocessor,
                                 fps=self._settings.video_fps, max_frames=self._settings.video_max_frames)
        return mean_direction(model.embedder.embed_images(prepared.pixels))

    def _download(self, bucket: str, key: str) -> bytes:
        try:
            _, data = read_object(self._presigner.s3, bucket, key, max_bytes=self._settings.max_upload_bytes)
        except MediaMissing:
            raise MediaNotFound(f"no media {key!r} for this client") from None
        return data


def _plain(filters: Filters, **parts) -> SearchQuery:
    return SearchQuery(**parts, k=filters.k, skus=None if filters.sku is None else (filters.sku,),
                       media_type=None if filters.media_type is None else MediaType(filters.media_type))


def normalised_query(text: str) -> str:
    """Whitespace collapsed, so "red  circle " and "red circle" share one cache entry."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the query is over {MAX_QUERY_CHARS} characters")
    return text
