"""Domain enums shared by every room (kept tiny so any module can import them)."""

from enum import StrEnum


class MediaType(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class EventKind(StrEnum):
    CREATED = "created"
    REMOVED = "removed"
