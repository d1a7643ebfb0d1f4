"""openapi.py: the blank-text pattern agrees with str.split(), and `responses=` carry the error body."""

import json
import re
import sys

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from stockmind.config import Settings
from stockmind.service.app import create_app
from stockmind.service.errors import json_error
from stockmind.service.openapi import (
    AUTHENTICATED_STATUSES,
    NON_BLANK_PATTERN,
    ErrorBody,
    authenticated,
    error_responses,
)
from stockmind.service.search import normalised_query

EVERY_CHARACTER = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]


def test_the_pattern_refuses_exactly_the_characters_str_split_treats_as_whitespace():
    python = re.compile(NON_BLANK_PATTERN)
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": NON_BLANK_PATTERN})
    disagree = [f"U+{ord(char):04X}" for char in EVERY_CHARACTER
                if bool(python.search(char)) != bool(char.split())]
    assert disagree == []
    for char in ("\u00a0", "\u001d", "\u0085", "\u3000", "\ufeff", "x"):
        assert ecma.is_valid(char) == bool(char.split()), f"U+{ord(char):04X}"


@pytest.mark.parametrize("text", ["\u00a0", " \t\u2003\n", "\u001c\u001d"])
def test_what_the_pattern_refuses_normalised_query_refuses(text):
    assert not re.search(NON_BLANK_PATTERN, text)
    with pytest.raises(ValueError, match="empty"):
        normalised_query(text)


def test_a_text_with_one_visible_character_matches():
    assert re.search(NON_BLANK_PATTERN, "\u00a0 x \u3000")
    assert re.search(NON_BLANK_PATTERN, "\ufeff")  # not whitespace to Python, so not blank to the service


def test_error_responses_carry_the_error_body_and_a_description():
    responses = error_responses(404, 400)
    assert list(responses) == [400, 404]
    assert all(r["model"] is ErrorBody and r["description"] for r in responses.values())
    assert error_responses(404, descriptions={404: "no such cursor"})[404]["description"] == "no such cursor"


def test_an_undescribed_status_is_refused():
    with pytest.raises(ValueError, match="418"):
        error_responses(418)


def test_authenticated_adds_the_shared_statuses_and_413_only_with_a_body():
    assert set(authenticated()) == set(AUTHENTICATED_STATUSES)
    assert {400, 413} <= set(authenticated(body=True))
    assert 413 not in authenticated(404)
    assert authenticated(401)[401]["headers"]["WWW-Authenticate"]["required"]


def test_the_error_bodies_the_service_sends_match_the_schema_it_publishes():
    app = create_app(Settings.from_env({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}))
    error_body = jsonschema_rs.validator_for({"$ref": "#/components/schemas/ErrorBody", **app.openapi()})
    starting = TestClient(app).post("/v1/embed/text", json={"texts": ["a red circle"]})  # no resources: 503
    invalid = json_error(422, "invalid_parameters", "body.texts.0: the text is blank",
                         problems=[{"location": ["body", "texts", "0"], "message": "the text is blank"}])
    assert starting.status_code == 503
    assert error_body.is_valid(starting.json())
    assert error_body.is_valid(json.loads(invalid.body))
    assert not error_body.is_valid({"detail": [{"loc": ["body"], "msg": "FastAPI's own 422 shape"}]})
