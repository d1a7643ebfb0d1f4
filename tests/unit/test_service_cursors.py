"""Cursors: round trips; every way of misusing one is the same refusal, but for one of another model, which says so."""

import pytest

from stockmind.service.cursors import CursorSigner, InvalidCursor
from stockmind.service.query import SearchQuery
from stockmind.store import Position

SIGNER = CursorSigner(b"k" * 32)
DIGEST = SearchQuery(text="red").digest()
MODEL = "stockmind-clip-small"


def test_a_cursor_gives_back_its_position_exactly():
    position = Position(0.12345678901234567, "clients/acme/products/s/media/image/ä.jpg", 40)
    assert SIGNER.open(SIGNER.seal("acme", DIGEST, position, model_id=MODEL), "acme", DIGEST,
                       model_id=MODEL) == position


@pytest.mark.parametrize("client, digest, signer", [
    ("globex", DIGEST, SIGNER), ("acme", SearchQuery(text="blue").digest(), SIGNER),
    ("acme", DIGEST, CursorSigner(b"x" * 32)),
])
def test_another_tenant_query_or_key_refuses_it(client, digest, signer):
    cursor = SIGNER.seal("acme", DIGEST, Position(0.5, "k", 3), model_id=MODEL)
    with pytest.raises(InvalidCursor, match="not a cursor of this query"):
        signer.open(cursor, client, digest, model_id=MODEL)


def test_a_cursor_of_another_model_is_refused_saying_the_model_changed():
    cursor = SIGNER.seal("acme", DIGEST, Position(0.5, "k", 3), model_id=MODEL)
    with pytest.raises(InvalidCursor, match="model changed.*start the search again"):
        SIGNER.open(cursor, "acme", DIGEST, model_id="another-model")


def test_every_altered_character_is_refused():
    cursor = SIGNER.seal("acme", DIGEST, Position(0.5, "key", 3), model_id=MODEL)
    for at in range(len(cursor)):
        if cursor[at] == ".":
            continue
        altered = cursor[:at] + ("A" if cursor[at] != "A" else "B") + cursor[at + 1:]
        with pytest.raises(InvalidCursor):
            SIGNER.open(altered, "acme", DIGEST, model_id=MODEL)


@pytest.mark.parametrize("garbage", ["", ".", "a.b.c", "abc", "é.é", "x" * 3000, "!!!.???"])
def test_garbage_is_refused_not_a_crash(garbage):
    with pytest.raises(InvalidCursor):
        SIGNER.open(garbage, "acme", DIGEST, model_id=MODEL)


def test_a_short_key_is_refused():
    with pytest.raises(ValueError):
        CursorSigner(b"short")


def test_the_digest_binds_what_orders_the_pages_but_not_the_page_size():
    base = SearchQuery(text="red", positive=("a",), min_score=0.1)
    assert base.digest() == SearchQuery(text="red", positive=("a",), min_score=0.1, k=50, cursor="c").digest()
    changed = [SearchQuery(text="red", positive=("b",), min_score=0.1), SearchQuery(text="red", positive=("a",)),
               SearchQuery(text="red", positive=("a",), min_score=0.1, group="sku"),
               SearchQuery(text="red", positive=("a",), min_score=0.1, skus=("s",)),
               SearchQuery(image=b"x", positive=("a",), min_score=0.1)]
    assert len({base.digest(), *(query.digest() for query in changed)}) == 1 + len(changed)
    assert SearchQuery(image=b"x").digest() != SearchQuery(image=b"y").digest()
