"""API keys against a real database, and the `stockmind keys` commands."""

import argparse

import pytest

from stockmind.commands import keys as keys_command
from stockmind.service import api_keys
from stockmind.store import connect


@pytest.fixture
def conn(database_url):
    with connect(database_url) as connection:
        yield connection


def secret_of(token):
    # Not token.rsplit("_"): the urlsafe secret may itself contain "_", leaving a short tail found anywhere.
    key_id = token.split("_")[1]
    secret = token.removeprefix(f"smk_{key_id}_")
    assert len(secret) >= 40
    return secret


def test_a_minted_key_authenticates_as_its_client(conn):
    minted = api_keys.create_key(conn, "acme", "laptop")
    assert minted.token.startswith(f"smk_{minted.key.key_id}_")
    assert api_keys.authenticate(conn, minted.token) == "acme"


def test_only_a_digest_of_the_key_is_stored(conn):
    minted = api_keys.create_key(conn, "acme")
    secret = secret_of(minted.token)
    row = conn.execute("SELECT row_to_json(api_keys)::text FROM api_keys").fetchone()[0]
    assert secret not in row and minted.token not in row


def test_a_wrong_secret_for_a_real_key_id_is_refused(conn):
    minted = api_keys.create_key(conn, "acme")
    forged = minted.token[:-4] + ("AAAA" if not minted.token.endswith("AAAA") else "BBBB")
    assert api_keys.authenticate(conn, forged) is None


@pytest.mark.parametrize("token", ["", "smk_", "smk_zz_secret", "Bearer smk_x", "smk_0123456789ab_short"])
def test_malformed_tokens_are_refused(conn, token):
    assert api_keys.authenticate(conn, token) is None


def test_revoked_keys_stop_working_and_stay_listed(conn):
    kept, dropped = api_keys.create_key(conn, "acme", "kept"), api_keys.create_key(conn, "acme", "dropped")
    assert api_keys.revoke_key(conn, dropped.key.key_id)
    first = api_keys.list_keys(conn, "acme")
    assert api_keys.revoke_key(conn, dropped.key.key_id)  # twice: still revoked, first time kept
    assert api_keys.authenticate(conn, dropped.token) is None and api_keys.authenticate(conn, kept.token) == "acme"
    listed = {key.key_id: key for key in api_keys.list_keys(conn, "acme")}
    assert not listed[dropped.key.key_id].active and listed[kept.key.key_id].active
    assert listed[dropped.key.key_id].revoked_at == {k.key_id: k for k in first}[dropped.key.key_id].revoked_at


def test_revoking_an_unknown_key_says_so(conn):
    assert api_keys.revoke_key(conn, "000000000000") is False


def test_listing_filters_by_client(conn):
    api_keys.create_key(conn, "acme")
    api_keys.create_key(conn, "globex")
    assert {key.client_id for key in api_keys.list_keys(conn, "globex")} == {"globex"}
    assert {key.client_id for key in api_keys.list_keys(conn)} == {"acme", "globex"}


@pytest.mark.parametrize("client", ["", "a/b", "x" * 256])
def test_client_ids_that_cannot_be_a_key_segment_are_refused(conn, client):
    with pytest.raises(ValueError):
        api_keys.create_key(conn, client)


def run_cli(monkeypatch, database_url, *argv):
    monkeypatch.setenv("DATABASE_URL", database_url)
    parser = argparse.ArgumentParser()
    keys_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.run(args)


def test_the_keys_commands_create_list_and_revoke(monkeypatch, capsys, database_url):
    assert run_cli(monkeypatch, database_url, "keys", "create", "--client", "acme", "--label", "ci") == 0
    created = capsys.readouterr().out
    token = created.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    with connect(database_url) as conn:
        assert api_keys.authenticate(conn, token) == "acme"

    assert run_cli(monkeypatch, database_url, "keys", "list", "--client", "acme") == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "active" in listing and secret_of(token) not in listing

    assert run_cli(monkeypatch, database_url, "keys", "revoke", key_id) == 0
    assert run_cli(monkeypatch, database_url, "keys", "revoke", "ffffffffffff") == 1
    capsys.readouterr()
    run_cli(monkeypatch, database_url, "keys", "list")
    assert "revoked" in capsys.readouterr().out


def test_the_keys_commands_ask_for_a_migration_on_an_unmigrated_database(monkeypatch, empty_database_url):
    with pytest.raises(SystemExit, match="stockmind db migrate"):
        run_cli(monkeypatch, empty_database_url, "keys", "list")


def test_a_key_carries_its_own_limits_until_set_back_to_the_defaults(conn):
    minted = api_keys.create_key(conn, "acme", rate_per_s=2.5, burst=5)
    assert (minted.key.rate_per_s, minted.key.burst) == (2.5, 5)
    stored = api_keys.authenticate_key(conn, minted.token)
    assert (stored.key_id, stored.client_id, stored.rate_per_s, stored.burst) == (minted.key.key_id, "acme", 2.5, 5)

    assert api_keys.set_limit(conn, minted.key.key_id, None, 7).burst == 7
    assert (api_keys.authenticate_key(conn, minted.token).rate_per_s,
            api_keys.authenticate_key(conn, minted.token).burst) == (None, 7)
    assert api_keys.set_limit(conn, "000000000000", 1, 1) is None


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (float("nan"), None), (None, 0)])
def test_unusable_limits_are_refused_before_the_database(conn, rate, burst):
    with pytest.raises(ValueError):
        api_keys.create_key(conn, "acme", rate_per_s=rate, burst=burst)


def test_the_keys_commands_set_show_and_reset_a_keys_limits(monkeypatch, capsys, database_url):
    argv = ["keys", "create", "--client", "acme", "--label", "ci", "--rate", "2.5", "--burst", "5"]
    assert run_cli(monkeypatch, database_url, *argv) == 0
    key_id = capsys.readouterr().out.strip().splitlines()[-1].split("_")[1]
    run_cli(monkeypatch, database_url, "keys", "list")
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(key_id)]
    assert row.split()[-3:-1] == ["2.5", "5"]

    assert run_cli(monkeypatch, database_url, "keys", "limit", key_id, "--burst", "9") == 0
    run_cli(monkeypatch, database_url, "keys", "list")
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(key_id)]
    assert "default" in row and " 9 " in row and "2.5" not in row

    assert run_cli(monkeypatch, database_url, "keys", "limit", key_id, "--default") == 0
    assert run_cli(monkeypatch, database_url, "keys", "limit", key_id) == 2  # neither a value nor --default
    assert run_cli(monkeypatch, database_url, "keys", "limit", "ffffffffffff", "--burst", "1") == 1
    with connect(database_url) as conn:
        (key,) = api_keys.list_keys(conn)
    assert (key.rate_per_s, key.burst) == (None, None)


@pytest.mark.parametrize("argv", [["--rate", "0"], ["--rate", "nan"], ["--burst", "0"], ["--burst", "1.5"]])
def test_the_keys_commands_refuse_unusable_limits(monkeypatch, database_url, argv):
    with pytest.raises(SystemExit):
        run_cli(monkeypatch, database_url, "keys", "create", "--client", "acme", *argv)
