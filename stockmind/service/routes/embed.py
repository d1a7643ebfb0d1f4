"""Embedding endpoints: the vectors of texts or an image by the caller's active model (the one its
searches use, so the vectors compare with its stored ones), with the model id and dimension."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from stockmind.config import Settings
from stockmind.service.auth import ClientId
from stockmind.service.deps import ResourcesDep
from stockmind.service.openapi import UNDECODABLE_UPLOAD, authenticated, image_upload
from stockmind.service.query_models import QueryModel
from stockmind.service.routes.models import ImageEmbedding, TextEmbeddings, TextsIn
from stockmind.service.routes.uploads import FIELD, read_upload


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(prefix="/v1/embed", tags=["embeddings"])

    @routes.post("/text", response_model=TextEmbeddings, summary="Embed up to 64 texts",
                 responses=authenticated(body=True))
    def embed_text(body: TextsIn, client: ClientId, res: ResourcesDep) -> TextEmbeddings:
        model = _model_of(res, client)
        vectors = res.searcher.embed_texts(body.cleaned(), model)
        return TextEmbeddings(model_id=model.model_id, dim=model.dim,
                              embeddings=[vector.tolist() for vector in vectors])

    @routes.post("/image", response_model=ImageEmbedding, summary="Embed one uploaded image",
                 responses=authenticated(body=True, descriptions=UNDECODABLE_UPLOAD), openapi_extra=image_upload(FIELD))
    async def embed_image(file: Annotated[UploadFile, File(description="the image, not empty",
                                                           json_schema_extra={"minLength": 1})],
                          client: ClientId, res: ResourcesDep) -> ImageEmbedding:
        data = await read_upload(file, settings.max_upload_bytes)
        model = await run_in_threadpool(_model_of, res, client)  # a query, and maybe a load: off the event loop
        vector = await run_in_threadpool(model.embed_image, data)
        return ImageEmbedding(model_id=model.model_id, dim=model.dim, embedding=vector.tolist())

    return routes


def _model_of(res, client: str) -> QueryModel:
    with res.pool.connection() as conn:
        return res.searcher.model_for(conn, client)
