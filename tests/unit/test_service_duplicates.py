"""GET /v1/duplicates without a database: its cursor, and its place in the OpenAPI schema."""

import hashlib

import pytest
from fastapi.testclient import TestClient

from stockmind.config import Settings
from stockmind.service.app import create_app
from stockmind.service.errors import ApiError
from stockmind.service.resources import ResourceSlot
from stockmind.service.routes.duplicates import DEFAULT_MIN_SCORE, decode_cursor, encode_cursor

SETTINGS = Settings.from_env({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})


@pytest.mark.parametrize("digest", [hashlib.sha256(b"a").digest(), b"\xff" * 31 + b"\x00", b"\xfb\xef" * 16])
def test_a_cursor_gives_back_the_hash_it_was_made_from(digest):
    cursor = encode_cursor(digest)
    assert decode_cursor(cursor) == digest
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor  # safe in a query string unquoted


@pytest.mark.parametrize("garbage", [
    "", "abc", "not a cursor", "é" * 43,
    encode_cursor(b"\x01" * 31),  # too short for a SHA-256
    encode_cursor(b"\x01" * 33),
    encode_cursor(b"\xfb\xef" * 16).replace("-", "+").replace("_", "/"),  # standard base64, not base64url
    encode_cursor(b"\x01" * 32) + "=",  # padded: not what the service makes
    encode_cursor(b"\x01" * 32)[:-1] + "B",  # the same bytes, different unused trailing bits
])
def test_a_cursor_the_service_did_not_make_is_a_400_invalid_cursor(garbage):
    with pytest.raises(ApiError) as raised:
        decode_cursor(garbage)
    assert (raised.value.status_code, raised.value.code) == (400, "invalid_cursor")


def test_openapi_documents_both_answers_and_the_default_threshold():
    app = create_app(SETTINGS)
    app.state.resources = ResourceSlot()
    schema = TestClient(app).get("/openapi.json").json()
    operation = schema["paths"]["/v1/duplicates"]["get"]
    answers = operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in answers} == {"DuplicatesOfKey", "IdenticalGroups"}
    assert {"400", "404", "422"} <= set(operation["responses"])
    [min_score] = [p for p in operation["parameters"] if p["name"] == "min_score"]
    assert str(DEFAULT_MIN_SCORE) in min_score["description"]
    assert {"key", "limit", "cursor"} <= {p["name"] for p in operation["parameters"]}
