"""Reading one uploaded file from a multipart form, within the upload limit."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from stockmind.service.errors import ApiError

FIELD = "file"


async def read_upload(upload: object, max_bytes: int) -> bytes:
    if not isinstance(upload, UploadFile):
        raise ApiError(422, f"expected an image file in the multipart field {FIELD!r}")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, f"the upload is over the {max_bytes}-byte limit")
    if not data:
        raise ApiError(400, "the uploaded file is empty", code="undecodable_media")
    return data
