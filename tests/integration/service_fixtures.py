"""Fixtures for the search service tests: two tenants with overlapping catalogues, indexed with our
small CLIP (vectors written with the store's writer, objects uploaded to the local S3), API keys,
and the real app served by uvicorn on a free loopback port.

Both tenants hold the same products under the same SKUs and file names (only the client segment of
the key differs), so any leak across tenants shows up as a foreign key in some result.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field

import boto3
import httpx
import pytest
import uvicorn

from stockmind.config import Settings
from stockmind.local.aws_topology import create_topology
from stockmind.local.ports import LOOPBACK, free_port
from stockmind.media.keys import parse_media_key
from stockmind.decode.prepare import prepare_media
from stockmind.service.search import Searcher
from stockmind.service import api_keys
from stockmind.service.app import create_app
from stockmind.service.resources import Resources
from stockmind.store import MediaVectors, PgVectorWriter, connect, migrate
from stockmind.dev.synthetic import Item, render
from stockmind.dev.synthetic_video import encode_video, slideshow

CLIENTS = ("acme", "globex")
COLORS = ("red", "blue", "green", "yellow")
SHAPES = ("circle", "square", "triangle")
BACKGROUNDS = ("white backdrop", "wooden table", "linen cloth")
SHOTS_PER_ITEM = 2
# Only globex sells orange rings: acme's searches for one must still return acme's media only.
GLOBEX_ONLY = Item("orange", "ring", "white backdrop")
# The video: VIDEO_SECONDS_EACH seconds of each product in turn; none of them is among the images.
VIDEO_ITEMS = (Item("white", "cross", "slate tile"), Item("black", "star", "white backdrop"),
               Item("purple", "square", "concrete floor"))
VIDEO_SECONDS_EACH = 3
VIDEO_FPS = 4
MAX_UPLOAD_BYTES = 256 * 1024


@dataclass
class Catalogue:
    """What each tenant holds: key → item for images, and the video's key."""

    images: dict[str, dict[str, Item]] = field(default_factory=dict)
    videos: dict[str, str] = field(default_factory=dict)
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # key → (bytes, content type)

    def keys_of(self, client: str) -> set[str]:
        return set(self.images[client]) | {self.videos[client]}


@dataclass
class Service:
    url: str
    settings: Settings
    searcher: Searcher
    catalogue: Catalogue
    tokens: dict[str, str]  # client (or "revoked") → API key
    s3: object
    env: dict[str, str]  # the environment the settings were read from

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def sku_of(item: Item) -> str:
    return f"sku-{item.color}-{item.shape}"


def jpeg(item: Item, seed: int, size: tuple[int, int] = (224, 224)) -> bytes:
    buffer = io.BytesIO()
    render(item, size=size, seed=seed).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def video_bytes() -> bytes:
    frames = slideshow([render(item, size=(224, 224), seed=7) for item in VIDEO_ITEMS], VIDEO_SECONDS_EACH, VIDEO_FPS)
    return encode_video(frames, fps=VIDEO_FPS, codec="h264")


def product(color: str, shape: str) -> Item:
    """The catalogue's product of this colour and shape (each is photographed on its own surface)."""
    return Item(color, shape, BACKGROUNDS[(COLORS.index(color) + SHAPES.index(shape)) % len(BACKGROUNDS)])


def new_photo(color: str, shape: str, seed: int, size: tuple[int, int] = (224, 224)) -> bytes:
    """Another photo of a catalogue product: new pose, lighting and noise (seeds above the catalogue's)."""
    return jpeg(product(color, shape), seed=10_000 + seed, size=size)


def catalogue_items(client: str) -> list[tuple[Item, int]]:
    items = [product(color, shape) for color in COLORS for shape in SHAPES]
    if client == "globex":
        items.append(GLOBEX_ONLY)
    return [(item, 100 * n + shot) for n, item in enumerate(items) for shot in range(SHOTS_PER_ITEM)]


def index_catalogue(settings: Settings, searcher: Searcher, s3, bucket: str) -> Catalogue:
    """Upload every object and write its vectors, as the streaming job would."""
    catalogue = Catalogue()
    video = video_bytes()
    for client in CLIENTS:
        catalogue.images[client] = {}
        for item, seed in catalogue_items(client):
            key = f"clients/{client}/products/{sku_of(item)}/media/image/shot-{seed % 100}.jpg"
            catalogue.images[client][key] = item
            catalogue.objects[key] = (jpeg(item, seed), "image/jpeg")
        key = f"clients/{client}/products/sku-video-1/media/video/showreel.mp4"
        catalogue.videos[client] = key
        catalogue.objects[key] = (video, "video/mp4")
    upload_objects(catalogue, s3, bucket)
    PgVectorWriter(settings.database_url).write(
        [_embedded(searcher, bucket, key, data, settings) for key, (data, _) in catalogue.objects.items()])
    return catalogue


def upload_objects(catalogue: Catalogue, s3, bucket: str) -> None:
    for key, (data, content_type) in catalogue.objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def _embedded(searcher: Searcher, bucket: str, key: str, data: bytes, settings: Settings) -> MediaVectors:
    ref = parse_media_key(key)
    prepared = prepare_media(ref.media_type, data, searcher.preprocessor, fps=settings.video_fps,
                             max_frames=settings.video_max_frames)
    return MediaVectors(ref=ref, bucket=bucket, etag=f"etag-{len(data)}", model_id=searcher.model_id,
                        vectors=searcher.embedder.embed_images(prepared.pixels), timestamps=prepared.timestamps,
                        size=len(data))


def mint_tokens(database_url: str) -> dict[str, str]:
    with connect(database_url) as conn:
        tokens = {client: api_keys.create_key(conn, client, "tests").token for client in CLIENTS}
        revoked = api_keys.create_key(conn, "acme", "revoked in tests")
        api_keys.revoke_key(conn, revoked.key.key_id)
    return {**tokens, "revoked": revoked.token}


class UvicornThread:
    """The app served by a real uvicorn server on 127.0.0.1, in a thread of the test process."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def service_env(stack_env: dict[str, str], database_url: str) -> dict[str, str]:
    return {**stack_env, "DATABASE_URL": database_url, "STOCKMIND_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)}


@pytest.fixture(scope="session")
def indexed_service(local_stack, stack_env):
    """The service over a fresh database holding both tenants' catalogues, for the whole session."""
    name = f"svc_{int(time.time() * 1000) % 10**9}_{free_port()}"
    database_url = local_stack.postgres.create_database(name)
    migrate(database_url)
    env = service_env(stack_env, database_url)
    settings = Settings.from_env(env)
    s3 = boto3.client("s3")
    create_topology(s3, boto3.client("sqs"), local_stack.bucket, local_stack.region)
    resources = Resources.open(settings)
    try:
        catalogue = index_catalogue(settings, resources.searcher, s3, local_stack.bucket)
        tokens = mint_tokens(database_url)
        with UvicornThread(create_app(settings, resources), free_port()) as running:
            host, port = running.server.config.host, running.server.config.port
            yield Service(f"http://{host}:{port}", settings, resources.searcher, catalogue, tokens, s3, env)
    finally:
        resources.close()
        local_stack.postgres.drop_database(name)


@pytest.fixture(scope="module")
def service(indexed_service, local_stack):
    """`indexed_service` with its objects put back: other modules' tests reset the shared S3 server."""
    s3 = indexed_service.s3
    create_topology(s3, boto3.client("sqs"), local_stack.bucket, local_stack.region)
    upload_objects(indexed_service.catalogue, s3, local_stack.bucket)
    return indexed_service


def result_keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [result["key"] for result in response.json()["results"]]


def owned_by(client: str, keys_: list[str]) -> bool:
    return all(parse_media_key(key).client_id == client for key in keys_)

