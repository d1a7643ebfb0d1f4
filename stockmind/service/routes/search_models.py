"""The search endpoints' bodies (they are also the OpenAPI schema): the general query, a batch of
them, and the page they answer with (media, or products with `group=sku`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)

from stockmind.errors import InvalidMediaKey
from stockmind.media.keys import MAX_KEY_BYTES, MEDIA_KEY_PATTERN, parse_media_key
from stockmind.media.types import MediaType
from stockmind.service.combine import Weights
from stockmind.service.cursors import MAX_CURSOR_CHARS
from stockmind.service.query import DEFAULT_PER_GROUP, Product, SearchPage, SearchQuery
from stockmind.service.routes.models import NonBlankText, Result
from stockmind.service.search import normalised_query
from stockmind.store.ranking import MAX_PER_GROUP

MAX_BATCH_QUERIES = 32
MAX_EXAMPLES = 32
MAX_SKU_FILTER = 100
MAX_SKU_CHARS = 255


def _media_key(key: str) -> str:
    # In the body's validation, so that a bad key in a batch fails the whole request as the schema says.
    try:
        parse_media_key(key)
    except InvalidMediaKey as error:
        raise ValueError(str(error)) from None
    return key


# The pattern only tells clients the layout; `parse_media_key` checks it, with a message saying what is wrong.
MediaKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY_BYTES,
                                json_schema_extra={"pattern": MEDIA_KEY_PATTERN}), AfterValidator(_media_key)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SKU_CHARS, pattern=r"^[^/\x00-\x1f\x7f]+$")]
# JSON Schema counts 10.0 as an integer; strict pydantic would not, so whole floats become ints first.
WholeNumber = Annotated[int, BeforeValidator(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS, pattern=r"^[A-Za-z0-9_.-]+$")]

_DEFAULT = Weights()


# strict: what the schema says is a number must be one (lax parsing would take `false` as 0).
class WeightsIn(BaseModel):
    """How much each part counts (each group of examples is averaged first)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: float = Field(_DEFAULT.text, ge=0, le=10)
    image: float = Field(_DEFAULT.image, ge=0, le=10)
    positive: float = Field(_DEFAULT.positive, ge=0, le=10)
    negative: float = Field(_DEFAULT.negative, ge=0, le=10)


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: list[Sku] | None = Field(None, min_length=1, max_length=MAX_SKU_FILTER, description="only these SKUs")
    # Not strict: FastAPI validates the parsed JSON, where an enum arrives as its string value.
    media_type: MediaType | None = Field(None, strict=False, description="only images or only videos")


# "At least one of text, image_key, positive", said in JSON Schema (the validator below checks it).
_SOMETHING_TO_SEARCH_WITH = {"anyOf": [
    {"required": ["text"], "properties": {"text": {"type": "string"}}},
    {"required": ["image_key"], "properties": {"image_key": {"type": "string"}}},
    {"required": ["positive"], "properties": {"positive": {"minItems": 1}}},
]}


class SearchRequest(BaseModel):
    """One query: any of a text, a stored example image, more examples and counter-examples."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_SOMETHING_TO_SEARCH_WITH)
    text: NonBlankText | None = Field(None, description="what to look for")
    image_key: MediaKey | None = Field(None, description="stored media of the caller's to search like")
    positive: list[MediaKey] = Field([], max_length=MAX_EXAMPLES, description="more examples: like these")
    negative: list[MediaKey] = Field([], max_length=MAX_EXAMPLES, description="counter-examples: not like these")
    weights: WeightsIn = Field(default_factory=WeightsIn)
    k: WholeNumber = Field(10, ge=1, description="results (products, with group=sku) per page")
    group: Literal["sku"] | None = Field(None, description="sku: one result per product")
    per_group: WholeNumber = Field(DEFAULT_PER_GROUP, ge=1, le=MAX_PER_GROUP,
                                   description="media per product (group=sku)")
    min_score: float | None = Field(None, ge=-1, le=1, description="nothing below this cosine similarity")
    filters: FiltersIn = Field(default_factory=FiltersIn)
    cursor: Cursor | None = Field(None, description="the previous page's next_cursor")

    @model_validator(mode="after")
    def _something_to_search_with(self) -> SearchRequest:
        if self.text is None and self.image_key is None and not self.positive:
            raise ValueError("give at least one of text, image_key, positive")
        return self

    def query(self) -> SearchQuery:
        """The query as the searcher takes it (k's bound is the body's own: `request_bodies`)."""
        w = self.weights
        return SearchQuery(
            text=None if self.text is None else normalised_query(self.text), image_key=self.image_key,
            positive=tuple(self.positive), negative=tuple(self.negative),
            weights=Weights(text=w.text, image=w.image, positive=w.positive, negative=w.negative),
            k=self.k, group=self.group, per_group=self.per_group, min_score=self.min_score,
            skus=None if self.filters.sku is None else tuple(self.filters.sku), media_type=self.filters.media_type,
            cursor=self.cursor)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    queries: list[SearchRequest] = Field(min_length=1, max_length=MAX_BATCH_QUERIES)


def request_bodies(max_k: int) -> tuple[type[SearchRequest], type[BatchRequest]]:
    """The two bodies with `k`'s bound this service's STOCKMIND_SEARCH_MAX_K, so the schema says it."""
    k = (WholeNumber, Field(10, ge=1, le=max_k, description="results (products, with group=sku) per page"))
    search = create_model("SearchRequest", __base__=SearchRequest, k=k)
    batch = create_model("BatchRequest", __base__=BatchRequest,
                         queries=(list[search], Field(min_length=1, max_length=MAX_BATCH_QUERIES)))
    return search, batch


class ProductOut(BaseModel):
    sku: str
    score: float = Field(description="its best media's score")
    media: list[Result] = Field(description="its best media, best first (at most per_group)")

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(sku=product.sku, score=product.score, media=[Result.of(r) for r in product.media])


class SearchResponse(BaseModel):
    client_id: str
    model_id: str = Field(description="the model that ranked the page: the tenant's active model when it was asked")
    results: list[Result] | None = Field(None, description="the media, best first (absent with group=sku)")
    products: list[ProductOut] | None = Field(None, description="the products, best first (only with group=sku)")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page (refused once the tenant's"
                                                " model changes); null on the last one")

    @classmethod
    def of(cls, client_id: str, page: SearchPage) -> SearchResponse:
        if page.products is not None:
            return cls(client_id=client_id, model_id=page.model_id, next_cursor=page.next_cursor,
                       products=[ProductOut.of(p) for p in page.products])
        return cls(client_id=client_id, model_id=page.model_id, next_cursor=page.next_cursor,
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
