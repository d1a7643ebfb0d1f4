"""Pure pieces of the search service: timing header, query normalisation, replica environment."""

import pytest

from stockmind.config import Settings
from stockmind.ray_env import forwarded_env
from stockmind.service.routes.search import server_timing
from stockmind.service.search import MAX_QUERY_CHARS, Timings, normalised_query


def test_server_timing_is_milliseconds_per_stage():
    timings = Timings(embed_s=0.0012, sql_s=0.0034, presign_s=0.0001)
    assert server_timing(timings) == "embed;dur=1.20, sql;dur=3.40, presign;dur=0.10"


def test_timings_accumulate_per_stage():
    timings = Timings()
    with timings.measure("sql_s"):
        pass
    first = timings.sql_s
    with timings.measure("sql_s"):
        pass
    assert timings.sql_s >= first >= 0 and timings.embed_s == 0


def test_queries_differing_in_whitespace_share_one_cache_entry():
    assert normalised_query("  red \t circle\n") == "red circle"


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_QUERY_CHARS + 1)])
def test_empty_or_overlong_queries_are_refused(text):
    with pytest.raises(ValueError):
        normalised_query(text)


def test_replicas_get_fake_credentials_only_for_a_loopback_endpoint():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@db/x"})
    local = {"DATABASE_URL": "postgresql://u@db/x", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
             "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "HOME": "/root"}
    env = forwarded_env(local, settings)
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["DATABASE_URL"] == local["DATABASE_URL"]
    assert "HOME" not in env

    aws = {**local, "AWS_ENDPOINT_URL": "https://s3.us-east-1.amazonaws.com"}
    assert "AWS_ACCESS_KEY_ID" not in forwarded_env(aws, settings)
