"""Embedding endpoints: the model's vectors for texts or an image, with the model id and dimension."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from stockmind.config import Settings
from stockmind.service.auth import ClientId
from stockmind.service.deps import ResourcesDep
from stockmind.service.openapi import UNDECODABLE_UPLOAD, authenticated, image_upload
from stockmind.service.routes.models import ImageEmbedding, TextEmbeddings, TextsIn
from stockmind.service.routes.uploads import FIELD, read_upload


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(prefix="/v1/embed", tags=["embeddings"])

    @routes.post("/text", response_model=TextEmbeddings, summary="Embed up to 64 texts",
                 responses=authenticated(body=True))
    def embed_text(body: TextsIn, client: ClientId, res: ResourcesDep) -> TextEmbeddings:
        vectors = [res.searcher.embed_text(text) for text in body.cleaned()]
        return TextEmbeddings(model_id=res.searcher.model_id, dim=res.searcher.embedder.dim,
                              embeddings=[vector.tolist() for vector in vectors])

    @routes.post("/image", response_model=ImageEmbedding, summary="Embed one uploaded image",
                 responses=authenticated(body=True, descriptions=UNDECODABLE_UPLOAD), openapi_extra=image_upload(FIELD))
    async def embed_image(file: Annotated[UploadFile, File(description="the image, not empty",
                                                           json_schema_extra={"minLength": 1})],
                          client: ClientId, res: ResourcesDep) -> ImageEmbedding:
        data = await read_upload(file, settings.max_upload_bytes)
        vector = await run_in_threadpool(res.searcher.embed_image, data)
        return ImageEmbedding(model_id=res.searcher.model_id, dim=res.searcher.embedder.dim,
                              embedding=vector.tolist())

    return routes
