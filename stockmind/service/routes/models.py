"""Request and response bodies (they are also the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stockmind.media.types import MediaType
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

    key: str = Field(min_length=1, max_length=1024,
                     examples=["clients/acme/products/sku-1/media/image/front.jpg"])


class TextsIn(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_EMBED_TEXTS)

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


def check_texts(texts: list[str]) -> str | None:
    """The problem with a list of texts to embed, or None."""
    for position, text in enumerate(texts):
        if not text:
            return f"texts[{position}] is empty"
        if len(text) > MAX_QUERY_CHARS:
            return f"texts[{position}] is over {MAX_QUERY_CHARS} characters"
    return None
