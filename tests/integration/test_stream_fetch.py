"""ObjectFetcher against the moto server: the event's version or nothing, missing and oversized objects."""

import pytest

from stockmind.errors import MediaMissing, MediaTooLarge
from stockmind.media.events import S3Event
from stockmind.media.types import EventKind
from stockmind.stream.fetch import ObjectFetcher

KEY = "clients/acme/products/sku-1/media/image/a.jpg"


def event(bucket: str, etag: str | None, size: int | None = None, key: str = KEY) -> S3Event:
    return S3Event(EventKind.CREATED, "ObjectCreated:Put", bucket, key, size, etag, None, None, None)


def test_fetch_returns_the_bytes_of_the_events_version(aws):
    etag = aws.s3.put_object(Bucket=aws.bucket, Key=KEY, Body=b"first")["ETag"].strip('"')
    meta, data = ObjectFetcher(aws.s3, max_bytes=1000).fetch(event(aws.bucket, etag))
    assert data == b"first"
    assert (meta.etag, meta.size) == (etag, 5)  # what the store records is the version that was read


def test_an_overwritten_key_is_superseded_not_misattributed(aws):
    old = aws.s3.put_object(Bucket=aws.bucket, Key=KEY, Body=b"old")["ETag"].strip('"')
    aws.s3.put_object(Bucket=aws.bucket, Key=KEY, Body=b"new")
    assert ObjectFetcher(aws.s3, max_bytes=1000).fetch(event(aws.bucket, old)) is None


def test_a_missing_object_is_media_missing(aws):
    with pytest.raises(MediaMissing, match="not in the bucket"):
        ObjectFetcher(aws.s3, max_bytes=1000).fetch(event(aws.bucket, "abc", key=KEY + ".gone.jpg"))


def test_an_object_over_the_upload_limit_is_refused_before_it_is_read(aws):
    etag = aws.s3.put_object(Bucket=aws.bucket, Key=KEY, Body=b"x" * 2000)["ETag"].strip('"')
    fetcher = ObjectFetcher(aws.s3, max_bytes=1000)
    with pytest.raises(MediaTooLarge, match="over the limit"):
        fetcher.fetch(event(aws.bucket, etag, size=2000))
    with pytest.raises(MediaTooLarge):
        fetcher.fetch(event(aws.bucket, etag, size=None))  # the event left the size out: the GET's length counts
