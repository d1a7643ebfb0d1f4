"""Media keys: the layout `clients/<client>/products/<sku>/media/<image|video>/<file>` (key ↔ `MediaRef`).

`parse_media_key` turns a decoded S3 object key into a `MediaRef`, or says precisely why the key is
not one (`InvalidMediaKey`, a `PoisonInput`: the message goes to the DLQ with the text as its reason).
`media_key` builds a key from its parts; it is the only place the layout is written out.
"""

import unicodedata
from dataclasses import dataclass
from functools import cached_property

from stockmind.errors import InvalidMediaKey
from stockmind.media.types import MEDIA_SUFFIXES, MediaType

# S3 rejects longer keys, so anything longer cannot have come from the bucket.
MAX_KEY_BYTES = 1024

# Segment positions (1-based, as a person counts them) of the fixed words in the layout.
_FIXED_SEGMENTS = {1: "clients", 3: "products", 5: "media"}
_SEGMENT_COUNT = 7
_LAYOUT = "clients/<client>/products/<sku>/media/<image|video>/<file>"
# Messages quote the key; a key near the 1024-byte limit would drown the reason.
_QUOTED_KEY_CHARS = 120


@dataclass(frozen=True)
class MediaRef:
    """One media object, as named by its key. `extension` is lower-case with its dot ('.jpg')."""

    client_id: str
    sku: str
    media_type: MediaType
    file_name: str
    extension: str

    # Cached: writers and readers ask for it several times per object.
    @cached_property
    def key(self) -> str:
        return media_key(self.client_id, self.sku, self.media_type, self.file_name)


def media_key(client_id: str, sku: str, media_type: MediaType | str, file_name: str) -> str:
    """The object key of a tenant's product media (no checks: `parse_media_key` checks a key)."""
    return f"clients/{client_id}/products/{sku}/media/{MediaType(media_type)}/{file_name}"


def _key_pattern() -> str:
    """The layout as a JSON Schema (ECMA 262) pattern: segments of any characters but '/' and controls
    (category Cc), none of them '.' or '..', and a file name with an allowed extension in any case."""
    char = r"[^/\u0000-\u001f\u007f-\u009f]"
    first = r"[^./\u0000-\u001f\u007f-\u009f]"
    segment = rf"(?:{first}{char}*|\.{first}{char}*|\.\.{char}+)"

    def extension(suffix: str) -> str:
        return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in suffix.lstrip("."))

    files = {media_type: rf"{char}+\.(?:{'|'.join(map(extension, suffixes))})"
             for media_type, suffixes in MEDIA_SUFFIXES.items()}
    return "^(?:" + "|".join(media_key(segment, segment, t, files[t]) for t in MediaType) + ")$"


# For the OpenAPI schema; `parse_media_key` stays the rule (tests/unit/test_media_keys.py checks they agree,
# but for the size: a pattern counts characters, S3 counts UTF-8 bytes).
MEDIA_KEY_PATTERN = _key_pattern()


def parse_media_key(key: str) -> MediaRef:
    """The `MediaRef` named by a decoded S3 key; `InvalidMediaKey` says exactly what is wrong."""
    if not isinstance(key, str):
        raise InvalidMediaKey(f"a media key must be a string, got {type(key).__name__}")
    try:
        _check_key_text(key)
        segments = key.split("/")
        _check_segments(segments)
        media_type = _media_type(segments[5])
        extension = _extension(segments[6], media_type)
    except _KeyProblem as problem:
        raise InvalidMediaKey(f"invalid media key {_quoted(key)}: {problem}") from None
    return MediaRef(
        client_id=segments[1],
        sku=segments[3],
        media_type=media_type,
        file_name=segments[6],
        extension=extension,
    )


class _KeyProblem(Exception):
    """Internal: a reason without the key; `parse_media_key` adds the key once, in one place."""


def _check_key_text(key: str) -> None:
    if not key:
        raise _KeyProblem("the key is empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates: text that no UTF-8 byte string (and so no S3 key) can carry.
        raise _KeyProblem("the key is not valid Unicode (it contains a lone surrogate)") from None
    if size > MAX_KEY_BYTES:
        raise _KeyProblem(f"the key is {size} bytes in UTF-8; S3 allows at most {MAX_KEY_BYTES}")
    for position, char in enumerate(key, start=1):
        # Category Cc: C0 controls (NUL, tab, newline...), DEL and the C1 controls.
        if unicodedata.category(char) == "Cc":
            raise _KeyProblem(f"control character U+{ord(char):04X} at character {position}")


def _check_segments(segments: list[str]) -> None:
    _check_no_empty_segment(segments)
    for number, segment in enumerate(segments, start=1):
        if segment in (".", ".."):
            raise _KeyProblem(f"segment {number} is '{segment}'; relative path segments are not allowed")
    if len(segments) != _SEGMENT_COUNT:
        amount = "few" if len(segments) < _SEGMENT_COUNT else "many"
        raise _KeyProblem(
            f"too {amount} segments: expected {_SEGMENT_COUNT} ({_LAYOUT}), got {len(segments)}"
        )
    for number, expected in _FIXED_SEGMENTS.items():
        if segments[number - 1] != expected:
            raise _KeyProblem(f"expected '{expected}' as segment {number}, got '{segments[number - 1]}'")


def _check_no_empty_segment(segments: list[str]) -> None:
    if segments[0] == "":
        raise _KeyProblem("the key starts with '/'")
    if segments[-1] == "":
        raise _KeyProblem("the key ends with '/' (a folder, not a file)")
    if "" in segments:
        raise _KeyProblem(f"segment {segments.index('') + 1} is empty (double slash '//')")


def _media_type(segment: str) -> MediaType:
    try:
        return MediaType(segment)
    except ValueError:
        known = " or ".join(f"'{t}'" for t in MediaType)
        raise _KeyProblem(f"unknown media type '{segment}' as segment 6 (expected {known})") from None


def _extension(file_name: str, media_type: MediaType) -> str:
    stem, dot, suffix = file_name.rpartition(".")
    if not dot or not suffix:
        raise _KeyProblem(f"file name '{file_name}' has no extension")
    if not stem:
        raise _KeyProblem(f"file name '{file_name}' has nothing before its extension")
    # Uploads use any case ('.JPG'); the layout only cares which kind of file it is.
    extension = "." + suffix.lower()
    allowed = MEDIA_SUFFIXES[media_type]
    if extension not in allowed:
        raise _KeyProblem(
            f"extension '.{suffix}' is not allowed for media type '{media_type}'"
            f" (expected one of {', '.join(allowed)})"
        )
    return extension


def _quoted(key: str) -> str:
    shown = key if len(key) <= _QUOTED_KEY_CHARS else key[:_QUOTED_KEY_CHARS] + "…"
    # repr() escapes control characters, so the reason stays one printable line in logs and the DLQ.
    return repr(shown)
