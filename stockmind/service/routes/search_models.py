"""The search endpoints' bodies (they are also the OpenAPI schema): the general query, a batch of
them, and the page they answer with (media, or products with `group=sku`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from stockmind.media.keys import MAX_KEY_BYTES
from stockmind.media.types import MediaType
from stockmind.service.combine import Weights
from stockmind.service.cursors import MAX_CURSOR_CHARS
from stockmind.service.query import DEFAULT_PER_GROUP, Product, SearchPage, SearchQuery
from stockmind.service.routes.models import Result
from stockmind.service.search import MAX_QUERY_CHARS, normalised_query
from stockmind.store.ranking import MAX_PER_GROUP

MAX_BATCH_QUERIES = 32
MAX_EXAMPLES = 32
MAX_SKU_FILTER = 100
MAX_SKU_CHARS = 255
# Text with something in it besides white space (what `normalised_query` would leave empty).
NON_BLANK = r"^.*[^\s\x1c-\x1f].*$"
# The media layout, as far as a pattern can say it (parse_media_key checks the rest): no control
# characters, seven segments, the fixed words in their places.
_SEGMENT = r"[^/\x00-\x1f\x7f]+"
MEDIA_KEY_PATTERN = rf"^clients/{_SEGMENT}/products/{_SEGMENT}/media/(image|video)/{_SEGMENT}$"

QueryText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS, pattern=NON_BLANK)]
MediaKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_BYTES, pattern=MEDIA_KEY_PATTERN)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SKU_CHARS, pattern=r"^[^/\x00-\x1f\x7f]+$")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS, pattern=r"^[A-Za-z0-9_.-]+$")]

_DEFAULT = Weights()


class WeightsIn(BaseModel):
    """How much each part counts (each group of examples is averaged first)."""

    model_config = ConfigDict(extra="forbid")
    text: float = Field(_DEFAULT.text, ge=0, le=10)
    image: float = Field(_DEFAULT.image, ge=0, le=10)
    positive: float = Field(_DEFAULT.positive, ge=0, le=10)
    negative: float = Field(_DEFAULT.negative, ge=0, le=10)


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: list[Sku] | None = Field(None, min_length=1, max_length=MAX_SKU_FILTER, description="only these SKUs")
    media_type: MediaType | None = Field(None, description="only images or only videos")


class SearchRequest(BaseModel):
    """One query: any of a text, a stored example image, more examples and counter-examples."""

    model_config = ConfigDict(extra="forbid")
    text: QueryText | None = Field(None, description="what to look for")
    image_key: MediaKey | None = Field(None, description="stored media of the caller's to search like")
    positive: list[MediaKey] = Field([], max_length=MAX_EXAMPLES, description="more examples: like these")
    negative: list[MediaKey] = Field([], max_length=MAX_EXAMPLES, description="counter-examples: not like these")
    weights: WeightsIn = Field(default_factory=WeightsIn)
    k: int = Field(10, ge=1, description="results (products, with group=sku) per page; at most STOCKMIND_SEARCH_MAX_K")
    group: Literal["sku"] | None = Field(None, description="sku: one result per product")
    per_group: int = Field(DEFAULT_PER_GROUP, ge=1, le=MAX_PER_GROUP, description="media per product (group=sku)")
    min_score: float | None = Field(None, ge=-1, le=1, description="nothing below this cosine similarity")
    filters: FiltersIn = Field(default_factory=FiltersIn)
    cursor: Cursor | None = Field(None, description="the previous page's next_cursor")

    @model_validator(mode="after")
    def _something_to_search_with(self) -> SearchRequest:
        if self.text is None and self.image_key is None and not self.positive:
            raise ValueError("give at least one of text, image_key, positive")
        return self

    def query(self, max_k: int) -> SearchQuery:
        """The query; `ValueError` naming the field for what the schema cannot say (k over max_k)."""
        if self.k > max_k:
            raise ValueError(f"k: at most {max_k}")
        w = self.weights
        return SearchQuery(
            text=None if self.text is None else normalised_query(self.text), image_key=self.image_key,
            positive=tuple(self.positive), negative=tuple(self.negative),
            weights=Weights(text=w.text, image=w.image, positive=w.positive, negative=w.negative),
            k=self.k, group=self.group, per_group=self.per_group, min_score=self.min_score,
            skus=None if self.filters.sku is None else tuple(self.filters.sku), media_type=self.filters.media_type,
            cursor=self.cursor)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[SearchRequest] = Field(min_length=1, max_length=MAX_BATCH_QUERIES)


class ProductOut(BaseModel):
    sku: str
    score: float = Field(description="its best media's score")
    media: list[Result] = Field(description="its best media, best first (at most per_group)")

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(sku=product.sku, score=product.score, media=[Result.of(r) for r in product.media])


class SearchResponse(BaseModel):
    client_id: str
    model_id: str
    results: list[Result] | None = Field(None, description="the media, best first (absent with group=sku)")
    products: list[ProductOut] | None = Field(None, description="the products, best first (only with group=sku)")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last one")

    @classmethod
    def of(cls, client_id: str, model_id: str, page: SearchPage) -> SearchResponse:
        if page.products is not None:
            return cls(client_id=client_id, model_id=model_id, next_cursor=page.next_cursor,
                       products=[ProductOut.of(p) for p in page.products])
        return cls(client_id=client_id, model_id=model_id, next_cursor=page.next_cursor,
                   results=[Result.of(r) for r in page.results])


class ErrorOut(BaseModel):
    code: str
    message: str


class BatchAnswer(BaseModel):
    status: int = Field(description="the status this query would have had alone")
    body: SearchResponse | None = None
    error: ErrorOut | None = None


class BatchResponse(BaseModel):
    responses: list[BatchAnswer]
