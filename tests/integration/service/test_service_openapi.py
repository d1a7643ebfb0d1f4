"""The running service keeps to its own /openapi.json: schemathesis sends every operation schema-valid and
schema-invalid requests (with acme's API key) and checks each answer against what the schema says.

Seeded and derandomized, so a run is repeatable; bounded by MAX_EXAMPLES per operation and phase.
"""

import io

import pytest
import schemathesis
from hypothesis import strategies as st

from stockmind.config import Settings
from stockmind.dev.synthetic import Item, render
from stockmind.service.app import create_app
from tests.integration.service.support import BACKGROUNDS, COLORS, SHAPES

pytestmark = pytest.mark.slow

SEED = 20261202
MAX_EXAMPLES = 50

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "ignored_auth",
    "missing_required_header",
    "unsupported_method",
]
# negative_data_rejection is sound here because validation enforces what the schema states and no more:
# the blank-text pattern is str.split()'s whitespace, the media key pattern is parse_media_key's layout.
# Left out: use_after_free and ensure_resource_availability follow created resources (the API creates
# none); object_level_authorization needs a second tenant's credentials per case (test_service_isolation.py
# covers tenancy); max_response_time has no limit worth asserting on this shared, loaded machine.


def _photos(image_format: str) -> st.SearchStrategy[bytes]:
    def encoded(item: Item, seed: int) -> bytes:
        buffer = io.BytesIO()
        render(item, size=(64, 64), seed=seed).save(buffer, format=image_format)
        return buffer.getvalue()

    items = st.builds(Item, st.sampled_from(COLORS), st.sampled_from(SHAPES), st.sampled_from(BACKGROUNDS))
    return st.builds(encoded, items, st.integers(0, 10**6))


# An upload's part is `image/*` in the schema, so schema-valid uploads are images; without these,
# schemathesis would send random bytes as valid data and the service's documented 400 would read as a
# rejected valid request. Schema-invalid uploads (empty, not a file) still come from the schema.
schemathesis.openapi.media_type("image/jpeg", _photos("JPEG"))
schemathesis.openapi.media_type("image/png", _photos("PNG"))

# The schema under test is the app's own, built at import so pytest collects one test per operation (the
# fixture-loaded form, `schemathesis.pytest.from_fixture`, breaks on pytest 9.2: it sets `Node._nodeid`).
# The running service serves the same schema (the first test says so) and answers the requests.
# "deterministic" is Hypothesis' derandomize; the seed fixes schemathesis' own choices.
SCHEMA = create_app(Settings()).openapi()
CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "request-timeout": 60,
    # A cursor is the service's own signed token, as opaque to a schema as a resource id: a generated
    # one is never genuine, and its documented answer is a 400 (invalid_cursor), so for the operations
    # that take one a 400 to schema-valid data is not a rejected valid request.
    "operations": [{"include-path-regex": "^/v1/search", "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]}}}],
})
schema = schemathesis.openapi.from_dict(SCHEMA, config=CONFIG)


def test_the_service_serves_the_schema_under_test(service):
    with service.client(None) as api:
        assert api.get("/openapi.json").json() == SCHEMA


@schema.parametrize()
def test_every_operation_answers_as_its_schema_says(case, service):
    case.call_and_validate(base_url=service.url, headers={"Authorization": f"Bearer {service.tokens['acme']}"})
