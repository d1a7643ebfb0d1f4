"""GET /v1/duplicates on the running service: byte-identical and near-identical media of a key, the
paged groups of identical media, presigned URLs, and never a duplicate from the other tenant, though
globex holds the very same bytes under the same SKUs and names.

The session's catalogue was written without content hashes (as media stored before migration 3 are);
this module adds hashed media of its own with the store's writer, and removes them when it is done,
so the other modules' searches see the catalogue alone.
"""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest
from PIL import Image

from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.service.routes.duplicates import DEFAULT_MIN_SCORE
from stockmind.store import MediaRemoval, PgVectorWriter
from stockmind.store.records import MediaVectors
from tests.integration.service.support import CLIENTS, new_photo

pytestmark = pytest.mark.slow

PHOTO = new_photo("red", "circle", seed=1)
OTHER_PHOTO = new_photo("blue", "square", seed=2)


def key(client: str, sku: str, name: str) -> str:
    return media_key(client, sku, MediaType.IMAGE, name)


def recompressed(data: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def extra_objects(client: str) -> dict[str, bytes]:
    """Per tenant: one photo under three SKUs (twice as is, once re-encoded) and another one twice."""
    return {
        key(client, "sku-dupe-a", "original.jpg"): PHOTO,
        key(client, "sku-dupe-b", "copy.jpg"): PHOTO,
        key(client, "sku-dupe-c", "recompressed.jpg"): recompressed(PHOTO),
        key(client, "sku-dupe-d", "front.jpg"): OTHER_PHOTO,
        key(client, "sku-dupe-e", "front.jpg"): OTHER_PHOTO,
    }


def hashed_vectors(service, data_by_key: dict[str, bytes]) -> list[MediaVectors]:
    searcher, bucket = service.searcher, service.settings.s3_bucket_name
    return [MediaVectors(ref=parse_media_key(k), bucket=bucket, etag=hashlib.md5(data).hexdigest(),
                         model_id=searcher.model_id, vectors=searcher.embed_image(data)[None, :], timestamps=[None],
                         size=len(data), content_sha256=hashlib.sha256(data).digest())
            for k, data in data_by_key.items()]


@pytest.fixture(scope="module")
def extras(service):
    objects = {k: data for client in CLIENTS for k, data in extra_objects(client).items()}
    bucket = service.settings.s3_bucket_name
    for k, data in objects.items():
        service.s3.put_object(Bucket=bucket, Key=k, Body=data, ContentType="image/jpeg")
    with PgVectorWriter(service.settings.database_url) as writer:
        assert writer.write(hashed_vectors(service, objects)).stored == len(objects)
        yield objects
        writer.delete([MediaRemoval(bucket, parse_media_key(k)) for k in objects])
    for k in objects:
        service.s3.delete_object(Bucket=bucket, Key=k)


def duplicates_of(service, caller: str, media: str, **params) -> dict:
    with service.client(caller) as api:
        response = api.get("/v1/duplicates", params={"key": media, **params})
    assert response.status_code == 200, response.text
    return response.json()


def all_groups(service, caller: str, limit: int) -> list[dict]:
    groups, params = [], {"limit": limit}
    with service.client(caller) as api:
        while True:
            body = api.get("/v1/duplicates", params=params).json()
            assert body["client_id"] == caller
            groups += body["groups"]
            if body["next_cursor"] is None:
                return groups
            params = {"limit": limit, "cursor": body["next_cursor"]}


@pytest.mark.parametrize("caller", CLIENTS)
def test_identical_media_are_the_callers_copies_and_near_ones_their_re_encodes(service, extras, caller):
    original = key(caller, "sku-dupe-a", "original.jpg")

    body = duplicates_of(service, caller, original)

    assert (body["client_id"], body["key"], body["min_score"]) == (caller, original, DEFAULT_MIN_SCORE)
    assert [m["key"] for m in body["identical"]] == [key(caller, "sku-dupe-b", "copy.jpg")]
    near = {m["key"]: m["score"] for m in body["near"]}
    assert key(caller, "sku-dupe-c", "recompressed.jpg") in near  # other bytes, the same picture
    assert all(score >= DEFAULT_MIN_SCORE for score in near.values())
    assert key(caller, "sku-dupe-b", "copy.jpg") not in near and original not in near  # listed once, never itself
    assert key(caller, "sku-dupe-d", "front.jpg") not in near  # another product
    every_key = [m["key"] for m in body["identical"] + body["near"]]
    assert all(parse_media_key(k).client_id == caller for k in every_key), every_key


def test_a_lower_min_score_lets_other_photos_in_best_first_and_limit_caps_them(service, extras):
    original = key("acme", "sku-dupe-a", "original.jpg")
    near = duplicates_of(service, "acme", original, min_score=-1, limit=100)["near"]
    scores = [m["score"] for m in near]
    assert scores == sorted(scores, reverse=True) and len(near) > 20  # the catalogue's photos too
    assert all(parse_media_key(m["key"]).client_id == "acme" for m in near)
    assert len(duplicates_of(service, "acme", original, min_score=-1, limit=3)["near"]) == 3


def test_every_result_has_a_presigned_url_to_its_own_bytes(service, extras):
    stored = {**{k: data for k, (data, _) in service.catalogue.objects.items()}, **extras}
    body = duplicates_of(service, "acme", key("acme", "sku-dupe-a", "original.jpg"))
    assert body["identical"] and body["near"]
    for media in body["identical"] + body["near"]:
        response = httpx.get(media["url"], timeout=30)
        assert response.status_code == 200 and response.content == stored[media["key"]], media["key"]


@pytest.mark.parametrize("caller", CLIENTS)
def test_groups_of_identical_media_page_through_the_callers_own_only(service, extras, caller):
    groups = all_groups(service, caller, limit=1)

    expected = {hashlib.sha256(data).hexdigest(): sorted(k for k, d in extra_objects(caller).items() if d == data)
                for data in (PHOTO, OTHER_PHOTO)}
    assert {g["content_sha256"]: g["keys"] for g in groups} == expected  # the other tenant's copies: never
    assert [g["count"] for g in groups] == [2, 2]
    assert [g["content_sha256"] for g in groups] == sorted(expected)
    assert all_groups(service, caller, limit=100) == groups


def test_another_tenants_key_and_an_unknown_key_get_the_same_404(service, extras):
    foreign, unknown = key("globex", "sku-dupe-a", "original.jpg"), key("acme", "sku-dupe-a", "never.jpg")
    with service.client("acme") as api:
        answers = [api.get("/v1/duplicates", params={"key": k}) for k in (foreign, unknown)]
    assert [a.status_code for a in answers] == [404, 404]
    assert [a.json()["error"]["code"] for a in answers] == ["media_not_found"] * 2
    assert answers[0].json()["error"]["message"].replace(foreign, "?") == \
        answers[1].json()["error"]["message"].replace(unknown, "?")


@pytest.mark.parametrize("params, status, named", [
    ({"key": "clients/acme/products/sku-dupe-a/media/image/original.jpg", "min_score": 1.5}, 422, "min_score"),
    ({"key": "clients/acme/products/sku-dupe-a/media/image/original.jpg", "min_score": -1.01}, 422, "min_score"),
    ({"key": "clients/acme/products/sku-dupe-a/media/image/original.jpg", "cursor": "x"}, 422, "cursor"),
    ({"min_score": 0.5}, 200, None),  # the group listing has no scores: ignored, as the schema says
    ({"limit": 0}, 422, "limit"),
    ({"cursor": "not-a-cursor"}, 422, "cursor"),
    ({"cursor": "A" * 43}, 200, None),  # a well-formed hash position: a page, maybe empty
])
def test_bad_parameters_are_named(service, extras, params, status, named):
    with service.client("acme") as api:
        response = api.get("/v1/duplicates", params=params)
    assert response.status_code == status, response.text
    if named:
        assert named in response.json()["error"]["message"]
