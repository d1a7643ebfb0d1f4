"""The search service tests' catalogue and result checks: two tenants with overlapping catalogues,
indexed with our small CLIP (vectors written with the store's writer, objects uploaded to the local S3).
The running service and its API keys are fixtures, in conftest.py.

Both tenants hold the same products under the same SKUs and file names (only the client segment of
the key differs), so any leak across tenants shows up as a foreign key in some result.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field

import httpx
import uvicorn

from stockmind.config import Settings
from stockmind.decode.prepare import prepare_media
from stockmind.dev.synthetic import Item, render
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.local.ports import LOOPBACK
from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.service.search import Searcher
from stockmind.store import MediaVectors, PgVectorWriter

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
            key = media_key(client, sku_of(item), MediaType.IMAGE, f"shot-{seed % 100}.jpg")
            catalogue.images[client][key] = item
            catalogue.objects[key] = (jpeg(item, seed), "image/jpeg")
        key = media_key(client, "sku-video-1", MediaType.VIDEO, "showreel.mp4")
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


def result_keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [result["key"] for result in response.json()["results"]]


def owned_by(client: str, keys_: list[str]) -> bool:
    return all(parse_media_key(key).client_id == client for key in keys_)


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
