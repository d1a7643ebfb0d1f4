"""Labelled evaluation sets: which media a tenant holds and what each shows.

Relevance is judged by label: a search result is relevant to a query when the media (for a video,
the moment the result points at) carries the query's label. Two sources:

- `synthetic_dataset`: held-out renders of the synthetic catalogue (render seeds no training run
  ever used), as JPEG/PNG photos and slideshow videos whose every second shows another product;
  labels are colour + shape ("red circle") and each label's query is "a red circle".
- `read_manifest`: real, labelled media already in a bucket, listed in a CSV with the columns
  `key,label[,query]` (a video may give one label per second, separated by `|`).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from stockmind.dev.sample_catalogue import PHOTO_SIZE, VIDEO_SIZE
from stockmind.dev.synthetic import BACKGROUNDS, Shot, all_items, held_out_shots, query_caption
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.errors import InvalidMediaKey
from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.objects import read_object
from stockmind.media.types import MediaType

# Frame timestamps land on slide boundaries (0 s, 1 s, ...); container time bases round them a little.
_TIME_TOLERANCE_S = 1e-3
VIDEO_FPS = 10
LABEL_SEPARATOR = "|"


@dataclass(frozen=True)
class LabelledMedia:
    """One media object and its label(s): one for an image; for a video, one for every
    `seconds_per_label` seconds (or a single label for all of it)."""

    key: str
    media_type: MediaType
    labels: tuple[str, ...]
    seconds_per_label: float = 1.0

    def __post_init__(self) -> None:
        if not self.labels or not all(self.labels):
            raise ValueError(f"{self.key}: expected at least one non-empty label")
        if self.media_type is MediaType.IMAGE and len(self.labels) != 1:
            raise ValueError(f"{self.key}: an image has exactly one label, got {len(self.labels)}")

    @property
    def client_id(self) -> str:
        return parse_media_key(self.key).client_id

    def label_at(self, timestamp_s: float | None) -> str:
        """The label shown at `timestamp_s` (a video's later seconds keep its last label)."""
        if timestamp_s is None or len(self.labels) == 1:
            return self.labels[0]
        index = int((timestamp_s + _TIME_TOLERANCE_S) // self.seconds_per_label)
        return self.labels[min(max(index, 0), len(self.labels) - 1)]


@dataclass(frozen=True)
class Dataset:
    """Labelled media of one or more tenants, and the text query of each label."""

    media: tuple[LabelledMedia, ...]
    queries: dict[str, str]
    _by_key: dict[str, LabelledMedia] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {m.key: m for m in self.media})
        missing = {label for m in self.media for label in m.labels} - set(self.queries)
        if missing:
            raise ValueError(f"labels without a query: {sorted(missing)[:5]}")

    @property
    def client_ids(self) -> list[str]:
        return sorted({m.client_id for m in self.media})

    def of(self, client_id: str, media_type: MediaType | None = None) -> list[LabelledMedia]:
        return [m for m in self.media if m.client_id == client_id and media_type in (None, m.media_type)]

    def labels(self, client_id: str, media_type: MediaType | None = None) -> list[str]:
        """The labels a tenant's media (of one type) show: the queries worth asking it."""
        return sorted({label for m in self.of(client_id, media_type) for label in m.labels})

    def label_of(self, key: str, timestamp_s: float | None) -> str | None:
        """The label of a search result, None for media outside the data set."""
        media = self._by_key.get(key)
        return None if media is None else media.label_at(timestamp_s)


@dataclass(frozen=True)
class MediaFile:
    """A labelled media object with its bytes, ready to upload."""

    media: LabelledMedia
    data: bytes


def synthetic_dataset(tenants: int, images_per_tenant: int, videos_per_tenant: int = 0,
                      video_seconds: int = 6, seed: int = 0, prefix: str = "eval",
                      labels_per_tenant: int | None = None,
                      photos_per_sku: int = 1) -> tuple[Dataset, list[MediaFile]]:
    """Held-out photos (640×480, every fifth a PNG) and slideshow videos (320×240 h264) for
    `tenants` tenants named `<prefix>-0`, `<prefix>-1`, ...; deterministic given the arguments.

    Each tenant sells `labels_per_tenant` of the catalogue's colour + shape products (a different
    draw per tenant; all of them when None), so that every product has several photos: precision@k
    of "more like this" can only reach 1 when a product has at least k other pictures.

    Up to `photos_per_sku` photos of one product share a SKU (a product page with several
    pictures), so that results can be counted per SKU as well as per media; a video is a SKU."""
    if tenants < 1 or images_per_tenant < 0 or videos_per_tenant < 0 or video_seconds < 1 or photos_per_sku < 1:
        raise ValueError("expected tenants >= 1, images/videos per tenant >= 0, video_seconds >= 1 "
                         "and photos_per_sku >= 1")
    all_labels = sorted({item.label for item in all_items()})
    if labels_per_tenant is not None and not 1 <= labels_per_tenant <= len(all_labels):
        raise ValueError(f"labels_per_tenant must be between 1 and {len(all_labels)}, got {labels_per_tenant}")
    files = []
    for t in range(tenants):
        tenant_seed = seed * 1000 + t
        sold = set(random.Random(tenant_seed).sample(all_labels, labels_per_tenant or len(all_labels)))
        files += _tenant_files(f"{prefix}-{t}", sold, images_per_tenant, videos_per_tenant, video_seconds, tenant_seed,
                               photos_per_sku)
    labels = {label for file in files for label in file.media.labels}
    return Dataset(tuple(f.media for f in files), {label: query_caption(*label.split()) for label in labels}), files


def _tenant_files(client_id: str, sold: set[str], n_images: int, n_videos: int, video_seconds: int,
                  seed: int, photos_per_sku: int) -> Iterator[MediaFile]:
    # Separate held-out seeds for photos and video stills: different pictures, never training ones.
    open_skus: dict[str, tuple[str, int]] = {}  # label -> (its SKU still taking photos, photos in it)
    for index, shot in enumerate(_shots_of(sold, n_images, seed=2 * seed)):
        label = shot.item.label
        sku, position = open_skus.get(label, ("", photos_per_sku))
        if position == photos_per_sku:
            sku, position = f"SKU-{index:05d}", 0
        open_skus[label] = (sku, position + 1)
        extension, image_format = (".png", "PNG") if index % 5 == 4 else (".jpg", "JPEG")
        name = label if position == 0 else f"{label} {position + 1}"
        key = media_key(client_id, sku, MediaType.IMAGE, f"{name}{extension}")
        buffer = io.BytesIO()
        shot.image(PHOTO_SIZE).save(buffer, format=image_format)
        yield MediaFile(LabelledMedia(key, MediaType.IMAGE, (shot.item.label,)), buffer.getvalue())
    stills = _shots_of(sold, n_videos * video_seconds, seed=2 * seed + 1)
    for index in range(n_videos):
        shown = stills[index * video_seconds:(index + 1) * video_seconds]
        key = media_key(client_id, f"SKU-V{index:04d}", MediaType.VIDEO, "reel.mp4")
        yield MediaFile(LabelledMedia(key, MediaType.VIDEO, tuple(s.item.label for s in shown)), _video(shown))


def _shots_of(labels: set[str], n: int, seed: int) -> list[Shot]:
    """The first `n` held-out shots (of one seed) whose product is in `labels`; shots are not
    rendered until asked, so passing over the others costs nothing."""
    pool = held_out_shots(n * (len(all_items()) // (len(labels) * len(BACKGROUNDS))) * 2 + 64, seed)
    chosen = [shot for shot in pool if shot.item.label in labels][:n]
    if len(chosen) < n:
        raise ValueError(f"the held-out catalogue gave {len(chosen)} of {n} shots for {len(labels)} labels")
    return chosen


def _video(shots: list[Shot]) -> bytes:
    frames = slideshow([shot.image(VIDEO_SIZE) for shot in shots], seconds_each=1.0, fps=VIDEO_FPS)
    return encode_video(frames, fps=VIDEO_FPS, codec="h264")


def read_manifest(text: str) -> Dataset:
    """A data set from a CSV manifest (`key,label[,query]`; a label query defaults to the label)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"key", "label"} <= set(rows[0]):
        raise ValueError("expected a CSV manifest with at least the columns key,label")
    media, queries = [], {}
    for line, row in enumerate(rows, start=2):
        try:
            ref = parse_media_key((row["key"] or "").strip())
        except InvalidMediaKey as error:
            raise ValueError(f"manifest line {line}: {error}") from None
        labels = tuple(label.strip() for label in row["label"].split(LABEL_SEPARATOR))
        if not all(labels):
            raise ValueError(f"manifest line {line}: empty label for {ref.key}")
        media.append(LabelledMedia(ref.key, ref.media_type, labels))
        for label in labels:
            queries.setdefault(label, (row.get("query") or "").strip() or label)
    return Dataset(tuple(media), queries)


def upload(s3, bucket: str, files: Iterable[MediaFile]) -> list[str]:
    """Put every file into the bucket (the way a tenant's uploads land); returns the keys."""
    keys = []
    for file in files:
        s3.put_object(Bucket=bucket, Key=file.media.key, Body=file.data)
        keys.append(file.media.key)
    return keys


def read_text(location: str, s3=None) -> str:
    """A manifest's text from a local path or an `s3://bucket/key` URI."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://"):].partition("/")
        if s3 is None or not key:
            raise ValueError(f"expected s3://bucket/key and an S3 client, got {location!r}")
        _, data = read_object(s3, bucket, key)
        return data.decode("utf-8")
    with open(location, encoding="utf-8") as handle:
        return handle.read()
