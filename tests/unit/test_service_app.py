"""The app's shape without a database or model: routes, OpenAPI, JSON errors while starting."""

from fastapi.testclient import TestClient

from stockmind.config import Settings
from stockmind.service.app import create_app
from stockmind.service.resources import ResourceSlot

SETTINGS = Settings.from_env({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
                              "STOCKMIND_MAX_UPLOAD_BYTES": "1000"})


def starting_client() -> TestClient:
    """An app whose resources never finish loading (none were given and the lifespan is not run)."""
    app = create_app(SETTINGS)
    app.state.resources = ResourceSlot()
    return TestClient(app)


def test_healthz_answers_while_the_model_loads():
    assert starting_client().get("/healthz").json() == {"status": "ok"}


def test_readyz_is_503_with_a_reason_while_starting():
    response = starting_client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["message"].startswith("starting")


def test_search_is_503_json_while_starting():
    response = starting_client().get("/v1/search", params={"q": "red circle"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "unavailable"


def test_openapi_lists_every_endpoint_and_both_image_bodies():
    schema = starting_client().get("/openapi.json").json()
    assert {"/v1/search", "/v1/search/image", "/v1/embed/text", "/v1/embed/image", "/healthz", "/readyz"} <= set(
        schema["paths"])
    bodies = schema["paths"]["/v1/search/image"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} == set(bodies)
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])


def test_docs_and_page_are_html():
    client = starting_client()
    assert "swagger" in client.get("/docs").text.lower()
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop-zone"' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_unknown_route_and_wrong_method_are_json():
    client = starting_client()
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.delete("/v1/search")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_declared_body_over_the_limit_is_413_before_anything_is_read():
    response = starting_client().post("/v1/embed/text", content=b"x" * 70_000,
                                      headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_streamed_body_over_the_limit_is_413():
    def chunks():
        for _ in range(100):
            yield b"x" * 1000

    response = starting_client().post("/v1/embed/text", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_malformed_content_length_is_400():
    response = starting_client().post("/v1/embed/text", content=b"{}",
                                      headers={"Content-Type": "application/json", "Content-Length": "abc"})
    assert response.status_code == 400
