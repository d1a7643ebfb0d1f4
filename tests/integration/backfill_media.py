"""A small mixed catalogue in the local S3 for backfill tests: JPEG/PNG images and a short video."""

from __future__ import annotations

import io
from dataclasses import dataclass

from stockmind.dev.synthetic import catalogue, render
from stockmind.dev.synthetic_video import encode_video
from stockmind.embed.models import SMALL_CLIP
from stockmind.media.keys import media_key
from stockmind.media.types import MediaType

MODEL = SMALL_CLIP
VIDEO_SECONDS = 3  # sampled at 1 frame/s → 3 frames


@dataclass(frozen=True)
class Uploaded:
    key: str
    frames: int


def image_bytes(seed: int, fmt: str = "JPEG") -> bytes:
    item = catalogue(seed + 1, seed=seed)[-1]
    buffer = io.BytesIO()
    render(item, size=(96, 80), seed=seed).save(buffer, format=fmt)
    return buffer.getvalue()


def video_bytes(seed: int) -> bytes:
    stills = [render(item, size=(64, 48), seed=seed + i) for i, item in enumerate(catalogue(VIDEO_SECONDS, seed))]
    return encode_video(stills, fps=1, codec="h264")


def upload_catalogue(s3, bucket: str, client: str, images: int = 3, with_video: bool = True) -> list[Uploaded]:
    """`images` pictures (one PNG, the rest JPEG; one name with a space and UTF-8) and one video."""
    uploaded = []
    for n in range(images):
        name = f"photo {n} é.png" if n == 0 else f"photo-{n}.jpg"
        key = media_key(client, f"sku-{n % 2}", MediaType.IMAGE, name)
        s3.put_object(Bucket=bucket, Key=key, Body=image_bytes(n + len(client), "PNG" if n == 0 else "JPEG"))
        uploaded.append(Uploaded(key, 1))
    if with_video:
        key = media_key(client, "sku-0", MediaType.VIDEO, "clip.mp4")
        s3.put_object(Bucket=bucket, Key=key, Body=video_bytes(len(client)))
        uploaded.append(Uploaded(key, VIDEO_SECONDS))
    return uploaded


def write_inventory(s3, bucket: str, prefix: str, report_prefix: str = "inventory/stock-mind") -> str:
    """An S3 Inventory report of everything under `prefix`, as S3 writes one: a gzipped CSV (no
    header, URL-encoded keys, columns named by the manifest) and manifest.json. Returns its s3:// URL."""
    import csv
    import gzip
    import json
    from urllib.parse import quote_plus

    columns = ["Bucket", "Key", "Size", "LastModifiedDate", "ETag"]
    lines = io.StringIO()
    writer = csv.writer(lines, quoting=csv.QUOTE_ALL)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            writer.writerow([bucket, quote_plus(item["Key"], safe="/"), item["Size"],
                             item["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"), item["ETag"].strip('"')])
    data_key = f"{report_prefix}/data/part-0.csv.gz"
    s3.put_object(Bucket=bucket, Key=data_key, Body=gzip.compress(lines.getvalue().encode("utf-8")))
    manifest = {
        "sourceBucket": bucket, "destinationBucket": f"arn:aws:s3:::{bucket}", "version": "2016-11-30",
        "fileFormat": "CSV", "fileSchema": ", ".join(columns), "files": [{"key": data_key}],
    }
    manifest_key = f"{report_prefix}/manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/{manifest_key}"
