"""Put a synthetic product catalogue into the media bucket, the way a tenant's uploads would land.

Used by the demo and the evaluation notebooks: each client gets product photos (JPEG and PNG, at
catalogue sizes) and a short product video whose every second shows a different product, so search
can be checked for "the right moment". From a shell, after `source .stockmind/local.env`:

    python -m stockmind.dev.sample_catalogue --client client-123 --photo photo.jpg
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from stockmind.dev.synthetic import Item, catalogue, render
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.media.keys import media_key
from stockmind.media.types import MediaType

PHOTO_SIZE = (640, 480)
VIDEO_SIZE = (320, 240)


@dataclass(frozen=True)
class UploadedMedia:
    key: str
    media_type: MediaType
    items: tuple[Item, ...]  # one per image; one per second for a video


def upload_catalogue(s3, bucket: str, client_id: str, n_images: int, seed: int = 0,
                     video_seconds: int = 4) -> list[UploadedMedia]:
    """Upload `n_images` photos and (if `video_seconds`) one video for `client_id`; return what went up."""
    uploaded = []
    for index, item in enumerate(catalogue(n_images, seed)):
        sku = f"SKU-{seed:02d}{index:04d}"
        extension, image_format = (".png", "PNG") if index % 5 == 4 else (".jpg", "JPEG")
        key = media_key(client_id, sku, MediaType.IMAGE, f"{item.color} {item.shape}{extension}")
        buffer = io.BytesIO()
        render(item, size=PHOTO_SIZE, seed=seed * 100_003 + index).save(buffer, format=image_format)
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        uploaded.append(UploadedMedia(key, MediaType.IMAGE, (item,)))
    if video_seconds:
        items = tuple(catalogue(video_seconds, seed + 1))
        stills = [render(item, size=VIDEO_SIZE, seed=seed + i) for i, item in enumerate(items)]
        video = encode_video(slideshow(stills, seconds_each=1.0, fps=10), fps=10, codec="h264")
        key = media_key(client_id, f"SKU-{seed:02d}-REEL", MediaType.VIDEO, "showcase.mp4")
        s3.put_object(Bucket=bucket, Key=key, Body=video)
        uploaded.append(UploadedMedia(key, MediaType.VIDEO, items))
    return uploaded


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Upload a synthetic catalogue for one client to $S3_BUCKET_NAME.")
    parser.add_argument("--client", required=True, help="the client id to upload as")
    parser.add_argument("--images", type=int, default=12, help="product photos (plus one video)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photo", type=Path, help="also write a new photo of one of its products here, to search by")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    import boto3

    from stockmind.config import Settings

    settings = Settings.from_env(require=["S3_BUCKET_NAME"])
    s3 = boto3.client("s3", region_name=settings.aws_region)
    uploaded = upload_catalogue(s3, settings.s3_bucket_name, args.client, args.images, seed=args.seed)
    print(f"uploaded {len(uploaded)} objects to s3://{settings.s3_bucket_name}/clients/{args.client}/")
    if args.photo:
        item = uploaded[0].items[0]
        # A render seed the upload did not use: a new photo of a product in the catalogue.
        render(item, size=(800, 600), seed=999).save(args.photo, format="JPEG")
        print(f"wrote {args.photo}: a new photo of {item.caption}")
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
