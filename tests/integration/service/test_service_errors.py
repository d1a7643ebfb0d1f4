"""Bad input: each case gets its status code and a JSON error; never a 500, never a stack trace."""

import io

import httpx
import pytest
from PIL import Image

from stockmind.dev.synthetic import Item
from tests.integration.service.support import MAX_UPLOAD_BYTES, jpeg

pytestmark = pytest.mark.slow

PHOTO = jpeg(Item("red", "circle", "white backdrop"), seed=1)
ENDPOINTS = [
    ("GET", "/v1/search", {"params": {"q": "a red circle"}}),
    ("POST", "/v1/search/image", {"files": {"file": ("p.jpg", PHOTO, "image/jpeg")}}),
    ("POST", "/v1/search/image", {"json": {"key": "clients/acme/products/s/media/image/a.jpg"}}),
    ("POST", "/v1/embed/text", {"json": {"texts": ["a red circle"]}}),
    ("POST", "/v1/embed/image", {"files": {"file": ("p.jpg", PHOTO, "image/jpeg")}}),
]


def assert_json_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text and 'File "' not in response.text
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("method,path,request_args", ENDPOINTS)
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer smk_000000000000_" + "A" * 43},
    {"Authorization": "Bearer not-a-key"},
    {"X-API-Key": ""},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["missing", "unknown", "malformed", "empty", "basic-auth"])
def test_missing_unknown_or_malformed_keys_are_401(service, method, path, request_args, headers):
    with service.client(None) as api:
        response = api.request(method, path, headers=headers, **request_args)
    assert_json_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method,path,request_args", ENDPOINTS)
def test_a_revoked_key_is_401(service, method, path, request_args):
    with service.client("revoked") as api:
        assert_json_error(api.request(method, path, **request_args), 401, "unauthorized")


def test_the_same_key_works_until_it_is_revoked(service):
    from stockmind.service import api_keys
    from stockmind.store import connect

    with connect(service.settings.database_url) as conn:
        minted = api_keys.create_key(conn, "acme", "short-lived")
        headers = {"X-API-Key": minted.token}
        with service.client(None) as api:
            assert api.get("/v1/search", params={"q": "a red circle"}, headers=headers).status_code == 200
            api_keys.revoke_key(conn, minted.key.key_id)
            assert_json_error(api.get("/v1/search", params={"q": "a red circle"}, headers=headers), 401)


@pytest.mark.parametrize("path", ["/v1/search/image", "/v1/embed/image"])
@pytest.mark.parametrize("data", [b"this is not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, PHOTO[:200]],
                         ids=["text", "broken-png", "truncated-jpeg"])
def test_a_non_image_upload_is_400_with_the_reason(service, path, data):
    with service.client("acme") as api:
        response = api.post(path, files={"file": ("x.jpg", data, "image/jpeg")})
    error = assert_json_error(response, 400)
    assert error["code"] == "undecodable_media"


@pytest.mark.parametrize("path", ["/v1/search/image", "/v1/embed/image"])
def test_an_empty_upload_is_400(service, path):
    with service.client("acme") as api:
        assert_json_error(api.post(path, files={"file": ("x.jpg", b"", "image/jpeg")}), 400)


def test_an_image_with_too_many_pixels_is_400_before_it_is_decoded(service):
    buffer = io.BytesIO()
    Image.new("L", (12_000, 10_000)).save(buffer, format="PNG", optimize=True)  # 120 MP, a few hundred KB
    assert len(buffer.getvalue()) < MAX_UPLOAD_BYTES
    with service.client("acme") as api:
        response = api.post("/v1/search/image", files={"file": ("bomb.png", buffer.getvalue(), "image/png")})
    assert_json_error(response, 400, "decompression_bomb")


@pytest.mark.parametrize("path", ["/v1/search/image", "/v1/embed/image"])
def test_an_upload_over_the_limit_is_413(service, path):
    just_over = b"\xff\xd8" + b"\x00" * (MAX_UPLOAD_BYTES - 1)  # inside the multipart envelope allowance
    way_over = b"\x00" * (MAX_UPLOAD_BYTES + 200_000)
    with service.client("acme") as api:
        for data in (just_over, way_over):
            assert_json_error(api.post(path, files={"file": ("big.jpg", data, "image/jpeg")}), 413)


def test_a_chunked_upload_over_the_limit_is_413(service):
    def body():  # a well-formed multipart stream whose file part never ends before the limit
        yield (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
               b"Content-Type: image/jpeg\r\n\r\n")
        for _ in range(MAX_UPLOAD_BYTES // 1000 + 200):
            yield b"0" * 1000

    with service.client("acme") as api:
        response = api.post("/v1/search/image", content=body(),
                            headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert_json_error(response, 413, "body_too_large")


@pytest.mark.parametrize("params", [
    {"q": "a red circle", "k": 0},
    {"q": "a red circle", "k": 101},
    {"q": "a red circle", "k": "ten"},
    {"q": "a red circle", "media_type": "audio"},
    {"q": "a red circle", "sku": ""},
    {"q": ""},
    {"q": "   "},
    {"q": "x" * 1001},
    {},
], ids=["k0", "k101", "k-text", "media-type", "empty-sku", "empty-q", "blank-q", "long-q", "no-q"])
def test_bad_search_parameters_are_422(service, params):
    with service.client("acme") as api:
        assert_json_error(api.get("/v1/search", params=params), 422, "invalid_parameters")


@pytest.mark.parametrize("params", [{"k": 0}, {"k": 1000}, {"media_type": "gif"}])
def test_bad_image_search_parameters_are_422(service, params):
    with service.client("acme") as api:
        response = api.post("/v1/search/image", params=params, files={"file": ("p.jpg", PHOTO, "image/jpeg")})
    assert_json_error(response, 422, "invalid_parameters")


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b"{}", "application/json"),
    (b'{"key": 42}', "application/json"),
    (b'{"key": "not/a/media/key"}', "application/json"),
    (b'{"key": ""}', "application/json"),
])
def test_bad_more_like_this_bodies_are_422(service, body, content_type):
    with service.client("acme") as api:
        response = api.post("/v1/search/image", content=body, headers={"Content-Type": content_type})
    assert_json_error(response, 422)


def test_a_missing_stored_key_of_the_callers_own_is_404(service):
    with service.client("acme") as api:
        response = api.post("/v1/search/image", json={"key": "clients/acme/products/none/media/image/none.jpg"})
    assert_json_error(response, 404, "media_not_found")


def test_unindexed_media_over_the_upload_limit_is_413_before_it_is_downloaded(service):
    key = "clients/acme/products/new/media/image/huge.jpg"
    service.s3.put_object(Bucket=service.settings.s3_bucket_name, Key=key, Body=b"\0" * (MAX_UPLOAD_BYTES + 1))
    try:
        with service.client("acme") as api:
            response = api.post("/v1/search/image", json={"key": key})
        error = assert_json_error(response, 413, "media_too_large")
        assert f"over the limit of {MAX_UPLOAD_BYTES:,}" in error["message"]
    finally:
        service.s3.delete_object(Bucket=service.settings.s3_bucket_name, Key=key)


@pytest.mark.parametrize("content_type", ["text/plain", "image/jpeg", None])
def test_other_body_types_for_image_search_are_415(service, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    with service.client("acme") as api:
        response = api.post("/v1/search/image", content=PHOTO, headers=headers)
    assert_json_error(response, 415, "unsupported_media_type")


def test_a_multipart_form_without_the_file_field_is_422(service):
    with service.client("acme") as api:
        response = api.post("/v1/search/image", files={"photo": ("p.jpg", PHOTO, "image/jpeg")})
    assert_json_error(response, 422)


@pytest.mark.parametrize("body", [{"texts": []}, {"texts": ["ok"] * 65}, {"texts": ["  "]}, {"texts": "a red circle"},
                                  {"text": "a red circle"}, {"texts": ["x" * 1001]}])
def test_bad_embed_text_bodies_are_422(service, body):
    with service.client("acme") as api:
        assert_json_error(api.post("/v1/embed/text", json=body), 422)


def test_embed_image_without_a_file_is_422(service):
    with service.client("acme") as api:
        assert_json_error(api.post("/v1/embed/image", data={"file": "not a file"}), 422)
