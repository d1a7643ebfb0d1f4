"""Request and response bodies (they are also the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from stockmind.media.keys import MAX_KEY_BYTES, MEDIA_KEY_PATTERN
from stockmind.media.types import MediaType
from stockmind.service.openapi import NON_BLANK_PATTERN
from stockmind.service.search import MAX_QUERY_CHARS, SearchResult

MAX_EMBED_TEXTS = 64


class Result(BaseModel):
    key: str
    sku: str
    media_type: MediaType
    score: float = Field(description="cosine similarity to the query, higher is closer")
    timestamp_s: float | None = Field(description="a video's best moment, in seconds; null for images")
    url: str = Field(description="presigned S3 GET URL of the media")

    @classmethod
    def of(cls, result: SearchResult) -> Result:
        return cls(key=result.key, sku=result.sku, media_type=result.media_type, score=result.score,
                   timestamp_s=result.timestamp_s, url=result.url)


class SimilarTo(BaseModel):
    """"More like this": the key of media already in the caller's bucket."""

    # The pattern only tells clients the layout; `parse_media_key` checks it, with a message saying what is wrong.
    key: str = Field(min_length=1, max_length=MAX_KEY_BYTES, json_schema_extra={"pattern": MEDIA_KEY_PATTERN},
                     description=f"a media key of the caller's, at most {MAX_KEY_BYTES} bytes in UTF-8",
                     examples=["clients/acme/products/sku-1/media/image/front.jpg"])


def _not_blank(text: str) -> str:
    if not text.split():
        raise ValueError("the text is blank")
    return text


# The schema's pattern says what `_not_blank` checks (str.split()'s whitespace), in words a client can test.
NonBlankText = Annotated[str, Field(max_length=MAX_QUERY_CHARS, json_schema_extra={"pattern": NON_BLANK_PATTERN}),
                         AfterValidator(_not_blank)]


class TextsIn(BaseModel):
    texts: list[NonBlankText] = Field(min_length=1, max_length=MAX_EMBED_TEXTS)

    def cleaned(self) -> list[str]:
        return [" ".join(text.split()) for text in self.texts]


class TextEmbeddings(BaseModel):
    model_id: str
    dim: int
    embeddings: list[list[float]]


class ImageEmbedding(BaseModel):
    model_id: str
    dim: int
    embedding: list[float]

