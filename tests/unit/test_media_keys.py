"""parse_media_key: which keys name a media object, and the exact reason for every other key."""

import re

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockmind.errors import InvalidMediaKey, PoisonInput
from stockmind.media.keys import MAX_KEY_BYTES, MEDIA_KEY_PATTERN, MediaRef, parse_media_key
from stockmind.media.types import MediaType

PREFIX = "clients/acme/products/SKU-1/media"


def ref(file_name: str, extension: str, media_type=MediaType.IMAGE, client="acme", sku="SKU-1") -> MediaRef:
    return MediaRef(client, sku, media_type, file_name, extension)


VALID_KEYS = [
    (f"{PREFIX}/image/front.jpg", ref("front.jpg", ".jpg")),
    (f"{PREFIX}/image/FRONT.JPG", ref("FRONT.JPG", ".jpg")),
    (f"{PREFIX}/image/side.Jpeg", ref("side.Jpeg", ".jpeg")),
    (f"{PREFIX}/image/cut-out.png", ref("cut-out.png", ".png")),
    (f"{PREFIX}/image/hero.webp", ref("hero.webp", ".webp")),
    (f"{PREFIX}/video/spin.mp4", ref("spin.mp4", ".mp4", MediaType.VIDEO)),
    (f"{PREFIX}/video/Spin.WEBM", ref("Spin.WEBM", ".webm", MediaType.VIDEO)),
    (f"{PREFIX}/image/..hidden.jpg", ref("..hidden.jpg", ".jpg")),
    ("clients/café/products/été 2024/media/image/café 1.jpg",
     ref("café 1.jpg", ".jpg", client="café", sku="été 2024")),
    ("clients/c-1/products/sku.v2/media/image/a.b.c.png", ref("a.b.c.png", ".png", client="c-1", sku="sku.v2")),
    ("clients/客户/products/商品/media/video/视频.mp4", ref("视频.mp4", ".mp4", MediaType.VIDEO, "客户", "商品")),
]


@pytest.mark.parametrize(("key", "expected"), VALID_KEYS)
def test_valid_key_parses_into_its_media_ref(key, expected):
    ref = parse_media_key(key)

    assert ref == expected
    assert ref.key == key


INVALID_KEYS = [
    # not a key at all
    ("", "the key is empty"),
    # depth
    (f"{PREFIX}/image", "too few segments: expected 7"),
    ("clients/acme/products/SKU-1/front.jpg", "too few segments: expected 7"),
    (f"{PREFIX}/image/extra/front.jpg", "too many segments: expected 7"),
    (f"{PREFIX}/image/a/b/c.jpg", "got 9"),
    # fixed segments
    ("client/acme/products/SKU-1/media/image/a.jpg", "expected 'clients' as segment 1, got 'client'"),
    ("Clients/acme/products/SKU-1/media/image/a.jpg", "expected 'clients' as segment 1, got 'Clients'"),
    ("clients/acme/product/SKU-1/media/image/a.jpg", "expected 'products' as segment 3, got 'product'"),
    ("clients/acme/products/SKU-1/images/image/a.jpg", "expected 'media' as segment 5, got 'images'"),
    # empty segments
    (f"/{PREFIX}/image/a.jpg", "the key starts with '/'"),
    (f"{PREFIX}/image/", "the key ends with '/' (a folder, not a file)"),
    ("clients//products/SKU-1/media/image/a.jpg", "segment 2 is empty (double slash '//')"),
    (f"{PREFIX}//image/a.jpg", "segment 6 is empty (double slash '//')"),
    # relative segments
    ("clients/../products/SKU-1/media/image/a.jpg", "segment 2 is '..'; relative path segments are not allowed"),
    ("clients/acme/products/./media/image/a.jpg", "segment 4 is '.'; relative path segments are not allowed"),
    (f"{PREFIX}/image/..", "segment 7 is '..'"),
    (f"{PREFIX}/image/../../../../etc/passwd.jpg", "segment 7 is '..'"),
    # media type
    (f"{PREFIX}/audio/a.mp3", "unknown media type 'audio' as segment 6 (expected 'image' or 'video')"),
    (f"{PREFIX}/Image/a.jpg", "unknown media type 'Image' as segment 6"),
    (f"{PREFIX}/images/a.jpg", "unknown media type 'images' as segment 6"),
    # extension
    (f"{PREFIX}/image/front", "file name 'front' has no extension"),
    (f"{PREFIX}/image/front.", "file name 'front.' has no extension"),
    (f"{PREFIX}/image/.jpg", "file name '.jpg' has nothing before its extension"),
    (f"{PREFIX}/image/clip.mp4",
     "extension '.mp4' is not allowed for media type 'image' (expected one of .jpg, .jpeg, .png, .webp)"),
    (f"{PREFIX}/video/still.jpg",
     "extension '.jpg' is not allowed for media type 'video' (expected one of .mp4, .webm)"),
    (f"{PREFIX}/image/doc.PDF", "extension '.PDF' is not allowed for media type 'image'"),
    (f"{PREFIX}/image/photo.jpg.exe", "extension '.exe' is not allowed for media type 'image'"),
    # control characters
    (f"{PREFIX}/image/a\x00.jpg", "control character U+0000 at character"),
    (f"{PREFIX}/image/a\n.jpg", "control character U+000A at character"),
    (f"{PREFIX}/image/a\r.jpg", "control character U+000D at character"),
    (f"{PREFIX}/image/a\t.jpg", "control character U+0009 at character"),
    (f"{PREFIX}/image/a\x7f.jpg", "control character U+007F at character"),
    (f"{PREFIX}/image/a\x85.jpg", "control character U+0085 at character"),
    ("\x1bclients/acme/products/SKU-1/media/image/a.jpg", "control character U+001B at character 1"),
    # text that no S3 key can be
    (f"{PREFIX}/image/a\udcff.jpg", "the key is not valid Unicode (it contains a lone surrogate)"),
    (f"{PREFIX}/image/{'a' * 1000}.jpg", f"bytes in UTF-8; S3 allows at most {MAX_KEY_BYTES}"),
]


@pytest.mark.parametrize(("key", "reason"), INVALID_KEYS)
def test_invalid_key_is_rejected_with_a_precise_reason(key, reason):
    with pytest.raises(InvalidMediaKey, match=re.escape(reason)):
        parse_media_key(key)


def test_key_limit_counts_utf8_bytes_not_characters():
    fixed = f"{PREFIX}/image/.jpg"
    # 'é' is two bytes: this key is under 1024 characters but over 1024 bytes.
    too_long = f"{PREFIX}/image/{'é' * ((MAX_KEY_BYTES - len(fixed)) // 2 + 1)}.jpg"
    just_fits = f"{PREFIX}/image/{'a' * (MAX_KEY_BYTES - len(fixed))}.jpg"

    assert len(too_long) < MAX_KEY_BYTES
    with pytest.raises(InvalidMediaKey, match=f"allows at most {MAX_KEY_BYTES}"):
        parse_media_key(too_long)
    assert len(just_fits.encode()) == MAX_KEY_BYTES
    assert parse_media_key(just_fits).key == just_fits


def test_error_names_the_key_without_raw_control_characters():
    with pytest.raises(InvalidMediaKey) as caught:
        parse_media_key(f"{PREFIX}/image/evil\n.jpg")

    message = str(caught.value)
    assert "\n" not in message
    assert repr(f"{PREFIX}/image/evil\n.jpg") in message


def test_error_shortens_a_very_long_key():
    with pytest.raises(InvalidMediaKey) as caught:
        parse_media_key("x/" * 600)

    assert len(str(caught.value)) < 300


def test_invalid_key_is_poison_with_its_reason_code():
    with pytest.raises(PoisonInput) as caught:
        parse_media_key("not/a/media/key.jpg")

    assert caught.value.reason == "invalid_media_key"


@pytest.mark.parametrize("not_a_string", [None, b"clients/a/products/b/media/image/c.jpg", 42])
def test_non_string_key_is_rejected(not_a_string):
    with pytest.raises(InvalidMediaKey, match="a media key must be a string"):
        parse_media_key(not_a_string)


def test_media_ref_rebuilds_its_key():
    ref = MediaRef("acme", "SKU 9", MediaType.VIDEO, "spin 360.webm", ".webm")

    assert ref.key == "clients/acme/products/SKU 9/media/video/spin 360.webm"


def test_media_ref_is_immutable():
    ref = parse_media_key(f"{PREFIX}/image/front.jpg")

    with pytest.raises(AttributeError):
        ref.sku = "other"  # type: ignore[misc]


# The OpenAPI schema's pattern must say what parse_media_key says, as Python reads it and as the ECMA-style
# validators of clients and test generators (jsonschema_rs, what schemathesis uses) read it.
KEY_SCHEMA = jsonschema_rs.validator_for({"type": "string", "pattern": MEDIA_KEY_PATTERN})


@pytest.mark.parametrize("key", [key for key, _ in VALID_KEYS])
def test_the_key_pattern_admits_every_valid_key(key):
    assert re.search(MEDIA_KEY_PATTERN, key)
    assert KEY_SCHEMA.is_valid(key)


# Size and lone surrogates are the two rules a pattern cannot state (the schema says them in words).
@pytest.mark.parametrize("key", [key for key, reason in INVALID_KEYS
                                 if "bytes in UTF-8" not in reason and "lone surrogate" not in reason])
def test_the_key_pattern_refuses_every_invalid_key(key):
    assert not re.search(MEDIA_KEY_PATTERN, key)
    assert not KEY_SCHEMA.is_valid(key)


@settings(max_examples=300, derandomize=True)
@given(st.from_regex(MEDIA_KEY_PATTERN, fullmatch=True).filter(lambda key: len(key.encode("utf-8", "surrogatepass"))
                                                                <= MAX_KEY_BYTES))
def test_every_key_the_pattern_admits_parses(key):
    if any("\ud800" <= char <= "\udfff" for char in key):
        with pytest.raises(InvalidMediaKey, match="lone surrogate"):
            parse_media_key(key)
    else:
        assert parse_media_key(key).key == key
