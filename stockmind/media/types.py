"""Domain enums and the file suffixes of each media type (kept tiny so any module can import them)."""

from enum import StrEnum


class MediaType(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class EventKind(StrEnum):
    CREATED = "created"
    REMOVED = "removed"


# Lower-case, with the dot; keys may use any case ('.JPG'), S3 notification filters are registered
# in both cases (`topology.notification_suffixes`).
MEDIA_SUFFIXES: dict[MediaType, tuple[str, ...]] = {
    MediaType.IMAGE: (".jpg", ".jpeg", ".png", ".webp"),
    MediaType.VIDEO: (".mp4", ".webm"),
}
