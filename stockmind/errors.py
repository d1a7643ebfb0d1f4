"""The project's error types.

Two families matter to the pipeline: `PoisonInput` (the input itself is bad; retrying cannot help,
so it goes to the DLQ with its reason) and everything else (transient: retry, never delete).
"""


class StockmindError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(StockmindError):
    """A setting is missing or malformed; the message names the variable."""


class SchemaNotReady(StockmindError):
    """The database answers but lacks the store's schema, and this process cannot (or, in a dry run,
    must not) apply it; the message says to run `stockmind db migrate`."""


class ModelChangeRefused(StockmindError):
    """A model change the store's state does not allow (activating a model that does not cover the
    tenant, retiring the active one, a second reindex of the same tenant and model); nothing changed."""


class PoisonInput(StockmindError):
    """Input that can never succeed. `reason` is a short machine-readable code for the DLQ."""

    reason = "poison_input"


class InvalidEvent(PoisonInput):
    """A queue message that is not a valid S3 event notification."""

    reason = "invalid_event"


class InvalidMediaKey(PoisonInput):
    """An object key outside clients/<client>/products/<sku>/media/<image|video>/<file>."""

    reason = "invalid_media_key"


class MediaMissing(PoisonInput):
    """The object named by an event is no longer in the bucket."""

    reason = "media_missing"


class MediaTooLarge(PoisonInput):
    """An object over the size limit of whoever reads it; refused before its body is read."""

    reason = "media_too_large"


class UndecodableMedia(PoisonInput):
    """Bytes that are not a readable image or video (corrupt, truncated, wrong format)."""

    reason = "undecodable_media"


class DecompressionBomb(UndecodableMedia):
    """An image whose pixel count exceeds the configured limit."""

    reason = "decompression_bomb"


class InvalidVector(PoisonInput):
    """A vector of the wrong dimension or with non-finite values."""

    reason = "invalid_vector"
