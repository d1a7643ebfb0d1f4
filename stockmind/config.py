"""One settings object, read from the environment.

The seed's worker variables keep their names (SQS_QUEUE_URL, S3_BUCKET_NAME, AWS_REGION, DATABASE_URL,
EMBEDDING_SERVICE_URL); everything else is STOCKMIND_*. Endpoints for S3/SQS come from boto3's own
AWS_ENDPOINT_URL* variables, so the same code talks to AWS or to the local stack.

Each entry point states which settings it needs (`require=`); a missing or malformed value fails at
start-up with a `ConfigError` that names the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from stockmind.errors import ConfigError

DEFAULT_MODEL = "openai/clip-vit-base-patch32"


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value

    return parse


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
        raise ValueError("expected an AWS region such as us-east-1")
    return value


def _bucket(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) or ".." in value:
        raise ValueError("expected an S3 bucket name (3-63 chars of a-z, 0-9, '.', '-')")
    return value


def _positive(kind: type) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"expected a positive {kind.__name__}") from None
        if not 0 < number < float("inf"):  # also refuses nan and inf, which float() accepts
            raise ValueError(f"expected a positive {kind.__name__}")
        return number

    return parse


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number >= 0") from None
    if number < 0 or number != number:
        raise ValueError("expected a number >= 0")
    return number


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip().lower() not in choices:
            raise ValueError(f"expected one of {'|'.join(choices)}")
        return value.strip().lower()

    return parse


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty value")
    return value.strip()


def _setting(env: str, parse: Callable[[str], object] = _text, default: object = None):
    return field(default=default, metadata={"env": env, "parse": parse})


@dataclass(frozen=True)
class Settings:
    # The seed's worker environment.
    sqs_queue_url: str | None = _setting("SQS_QUEUE_URL", _url(("https", "http")))
    s3_bucket_name: str | None = _setting("S3_BUCKET_NAME", _bucket)
    aws_region: str = _setting("AWS_REGION", _region, "us-east-1")
    database_url: str | None = _setting("DATABASE_URL", _url(("postgresql", "postgres")))
    embedding_service_url: str = _setting("EMBEDDING_SERVICE_URL", _url(("http", "https")), "http://127.0.0.1:8000")

    # Everything else.
    dlq_url: str | None = _setting("STOCKMIND_DLQ_URL", _url(("https", "http")))
    model: str = _setting("STOCKMIND_MODEL", _text, DEFAULT_MODEL)
    embed_batch_size: int = _setting("STOCKMIND_EMBED_BATCH_SIZE", _positive(int), 32)
    # Per ingestor: a stream with STOCKMIND_INGESTORS=N keeps N × this many embedder actors.
    embedder_pool_size: int = _setting("STOCKMIND_EMBEDDER_POOL_SIZE", _positive(int), 1)
    embedder_num_gpus: float = _setting("STOCKMIND_EMBEDDER_NUM_GPUS", _non_negative_float, 0.0)
    embedder_num_cpus: float = _setting("STOCKMIND_EMBEDDER_NUM_CPUS", _non_negative_float, 0.5)
    batch_max_wait_s: float = _setting("STOCKMIND_BATCH_MAX_WAIT_S", _non_negative_float, 0.2)
    max_messages_in_flight: int = _setting("STOCKMIND_MAX_MESSAGES_IN_FLIGHT", _positive(int), 64)
    # Stream ingestor actors, spread across nodes, all consuming the one queue (each with its own
    # embedder pool and its own in-flight bound).
    ingestors: int = _setting("STOCKMIND_INGESTORS", _positive(int), 1)
    video_fps: float = _setting("STOCKMIND_VIDEO_FPS", _positive(float), 1.0)
    video_max_frames: int = _setting("STOCKMIND_VIDEO_MAX_FRAMES", _positive(int), 64)
    # Where the stream (and, by default, the backfill) decodes images: before the embedders (the
    # stream's ingestor, the backfill's decoders), or in the embedder actors (nvJPEG on their GPU);
    # auto = the embedders when they have a GPU (stockmind/decode/placement.py).
    decode_on: str = _setting("STOCKMIND_DECODE_ON", _one_of("auto", "ingestor", "embedder"), "auto")
    max_image_pixels: int = _setting("STOCKMIND_MAX_IMAGE_PIXELS", _positive(int), 100_000_000)
    # An upload to the search service (and media it embeds during a request).
    max_upload_bytes: int = _setting("STOCKMIND_MAX_UPLOAD_BYTES", _positive(int), 20 * 1024 * 1024)
    # An object the stream or the backfill reads into memory: sized for product video.
    max_object_bytes: int = _setting("STOCKMIND_MAX_OBJECT_BYTES", _positive(int), 2 * 1024**3)
    search_max_k: int = _setting("STOCKMIND_SEARCH_MAX_K", _positive(int), 100)
    # How often the search service looks for models tenants newly hold (or no longer hold): a model
    # activated in between is loaded by its tenant's first query instead.
    models_refresh_s: float = _setting("STOCKMIND_MODELS_REFRESH_S", _positive(float), 10.0)
    # Each API key's default rate limit (a key may have its own: `stockmind keys limit`): the rate a
    # caller may keep up, and how many requests it may send at once (stockmind/service/rate_limits.py).
    rate_limit_per_s: float = _setting("STOCKMIND_RATE_LIMIT_PER_S", _positive(float), 10.0)
    rate_limit_burst: int = _setting("STOCKMIND_RATE_LIMIT_BURST", _positive(int), 20)
    # How many processes serve the API, each counting requests alone: each takes 1/N of every key's
    # limit. `stockmind serve --workers` and the Ray Serve deployment set it; set it by hand only for
    # another launcher (e.g. `uvicorn --workers N`).
    service_replicas: int = _setting("STOCKMIND_SERVICE_REPLICAS", _positive(int), 1)
    ray_address: str | None = _setting("STOCKMIND_RAY_ADDRESS")

    # On AWS (cluster.yaml): DATABASE_URL's password from Secrets Manager, the head's custom resource
    # that the stream's ingestor asks for.
    database_secret_arn: str | None = _setting("STOCKMIND_DATABASE_SECRET_ARN")
    ingestor_resource: str | None = _setting("STOCKMIND_INGESTOR_RESOURCE")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, require: Iterable[str] = ()) -> Settings:
        """Read every setting; raise ConfigError naming the variable that is malformed or required but unset."""
        env = os.environ if env is None else env
        values = {}
        for f in dataclasses.fields(cls):
            name, raw = f.metadata["env"], env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as error:
                raise ConfigError(f"{name}={raw!r} is invalid: {error}") from None
        settings = cls(**values)
        if settings.database_secret_arn:
            from stockmind.secrets import database_url_with_secret

            url = database_url_with_secret(settings.database_url, settings.database_secret_arn, settings.aws_region)
            settings = dataclasses.replace(settings, database_url=url)
        settings.require(*require)
        return settings

    def require(self, *env_names: str) -> Settings:
        by_env = {f.metadata["env"]: f.name for f in dataclasses.fields(self)}
        for name in env_names:
            if name not in by_env:
                raise ConfigError(f"{name} is not a known setting")
            if getattr(self, by_env[name]) is None:
                raise ConfigError(f"{name} is required but not set")
        return self

    @property
    def service_port(self) -> int:
        return urlparse(self.embedding_service_url).port or 8000
