"""`stockmind search` (the library directly, no HTTP) over the same catalogue as the API tests."""

import argparse
import json

import pytest

from stockmind.commands import search as search_command
from tests.integration.service.support import new_photo, owned_by

pytestmark = pytest.mark.slow


def run_search(monkeypatch, service, *argv) -> tuple[int, list[dict]]:
    for name, value in service.env.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    search_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["search", *argv, "--json"])
    return args.run(args), args


def printed_results(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_search_by_text_prints_the_clients_best_matches(monkeypatch, capsys, service):
    code, _ = run_search(monkeypatch, service, "--client", "acme", "a red circle", "-k", "3")
    results = printed_results(capsys)
    assert code == 0 and len(results) == 3 and results[0]["sku"] == "sku-red-circle"
    assert owned_by("acme", [r["key"] for r in results])


def test_search_by_image_file(monkeypatch, capsys, service, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(new_photo("yellow", "circle", seed=2))
    code, _ = run_search(monkeypatch, service, "--client", "globex", "--image", str(photo), "-k", "2")
    results = printed_results(capsys)
    assert code == 0 and results[0]["sku"] == "sku-yellow-circle" and owned_by("globex", [r["key"] for r in results])


def test_search_like_a_stored_key_and_filters(monkeypatch, capsys, service):
    source = service.catalogue.videos["acme"]
    code, _ = run_search(monkeypatch, service, "--client", "acme", "--like", source, "--media-type", "image", "-k", "5")
    results = printed_results(capsys)
    assert code == 0 and len(results) == 5 and {r["media_type"] for r in results} == {"image"}


@pytest.mark.parametrize("argv", [["--client", "acme", "   "], ["--client", "acme", "red", "-k", "0"]])
def test_bad_arguments_exit_2_with_a_message(monkeypatch, capsys, service, argv):
    code, _ = run_search(monkeypatch, service, *argv)
    assert code == 2 and "stockmind search:" in capsys.readouterr().out


def test_search_groups_by_product_with_a_score_floor(monkeypatch, capsys, service):
    code, _ = run_search(monkeypatch, service, "--client", "acme", "a red circle", "--group", "sku", "-k", "3",
                         "--per-group", "2", "--min-score", "-1")
    products = printed_results(capsys)
    assert code == 0 and [p["rank"] for p in products] == [1, 2, 3] and products[0]["sku"] == "sku-red-circle"
    assert len({p["sku"] for p in products}) == 3 and all(1 <= len(p["media"]) <= 2 for p in products)


def test_pages_follow_each_other_and_several_examples_refine(monkeypatch, capsys, service):
    keys = sorted(k for k, item in service.catalogue.images["acme"].items() if item.shape == "square")
    run_search(monkeypatch, service, "--client", "acme", "a shape", "-k", "6")
    six = printed_results(capsys)
    run_search(monkeypatch, service, "--client", "acme", "a shape", "-k", "3", "--page", "2")
    second = printed_results(capsys)
    assert [r["key"] for r in second] == [r["key"] for r in six[3:]] and [r["rank"] for r in second] == [4, 5, 6]
    code, _ = run_search(monkeypatch, service, "--client", "acme", "--like", keys[0], "--like", keys[1],
                         "--unlike", keys[2], "-k", "5")
    refined = [r["key"] for r in printed_results(capsys)]
    assert code == 0 and len(refined) == 5 and not set(keys[:3]) & set(refined)


@pytest.mark.parametrize("argv", [["--client", "acme"], ["--client", "acme", "red", "--page", "0"],
                                  ["--client", "acme", "red", "--min-score", "2"],
                                  ["--client", "acme", "red", "--per-group", "11", "--group", "sku"]])
def test_bad_query_arguments_exit_2_with_a_message(monkeypatch, capsys, service, argv):
    code, _ = run_search(monkeypatch, service, *argv)
    assert code == 2 and "stockmind search:" in capsys.readouterr().out
