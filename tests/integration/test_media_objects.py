"""The one S3 object reader against the moto server: bytes with the metadata of exactly those bytes,
If-Match and VersionId, missing objects, the size limit before any body is read, presigned URLs."""

import hashlib
import urllib.request
from datetime import datetime

import boto3
import pytest

from stockmind.errors import MediaMissing, MediaTooLarge
from stockmind.media.etags import bare_etag
from stockmind.media.objects import head_etag, presigned_url, read_object

KEY = "clients/acme/products/sku-1/media/image/a photo é.jpg"


def put(s3, bucket: str, data: bytes, key: str = KEY) -> dict:
    return s3.put_object(Bucket=bucket, Key=key, Body=data)


def versioned_bucket(s3, name: str = "stockmind-versioned-test") -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_read_returns_the_bytes_with_their_bare_etag_size_and_time(aws):
    etag = bare_etag(put(aws.s3, aws.bucket, b"first")["ETag"])

    meta, data = read_object(aws.s3, aws.bucket, KEY)

    assert data == b"first"
    assert (meta.bucket, meta.key, meta.etag, meta.version_id, meta.size) == (aws.bucket, KEY, etag, None, 5)
    assert isinstance(meta.last_modified, datetime) and meta.last_modified.tzinfo is not None
    assert head_etag(aws.s3, aws.bucket, KEY) == etag
    assert meta.content_sha256 == hashlib.sha256(b"first").digest()


def test_the_same_bytes_uploaded_in_one_part_or_as_a_multipart_upload_differ_in_etag_not_in_content_hash(aws):
    data = b"the same bytes twice"
    put(aws.s3, aws.bucket, data)
    other = KEY.replace("a photo", "multipart")
    upload = aws.s3.create_multipart_upload(Bucket=aws.bucket, Key=other)["UploadId"]
    part = aws.s3.upload_part(Bucket=aws.bucket, Key=other, UploadId=upload, PartNumber=1, Body=data)
    aws.s3.complete_multipart_upload(Bucket=aws.bucket, Key=other, UploadId=upload,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})

    single, _ = read_object(aws.s3, aws.bucket, KEY)
    multipart, _ = read_object(aws.s3, aws.bucket, other)

    assert single.etag != multipart.etag  # a multipart eTag is a hash of the parts' hashes, "-1" appended
    assert single.content_sha256 == multipart.content_sha256 == hashlib.sha256(data).digest()


def test_if_match_on_an_overwritten_key_is_superseded(aws):
    old = bare_etag(put(aws.s3, aws.bucket, b"old")["ETag"])
    new = bare_etag(put(aws.s3, aws.bucket, b"new")["ETag"])

    assert read_object(aws.s3, aws.bucket, KEY, etag=old) is None
    # Quoted or bare, the eTag names the same version.
    assert read_object(aws.s3, aws.bucket, KEY, etag=f'"{new}"')[1] == b"new"


def test_version_id_reads_that_version_of_a_versioned_bucket(aws):
    bucket = versioned_bucket(aws.s3)
    first = put(aws.s3, bucket, b"version one")
    put(aws.s3, bucket, b"version two")

    meta, data = read_object(aws.s3, bucket, KEY, version_id=first["VersionId"])

    assert data == b"version one"
    assert (meta.version_id, meta.etag) == (first["VersionId"], bare_etag(first["ETag"]))
    latest, data = read_object(aws.s3, bucket, KEY)
    assert data == b"version two" and latest.version_id not in (None, first["VersionId"])
    aws.s3.delete_object(Bucket=bucket, Key=KEY, VersionId=first["VersionId"])
    with pytest.raises(MediaMissing):
        read_object(aws.s3, bucket, KEY, version_id=first["VersionId"])


def test_a_missing_key_is_media_missing_for_get_and_head(aws):
    with pytest.raises(MediaMissing, match="not in the bucket"):
        read_object(aws.s3, aws.bucket, KEY + ".gone")
    with pytest.raises(MediaMissing):
        head_etag(aws.s3, aws.bucket, KEY + ".gone")


@pytest.fixture
def watched_s3(stack_env):
    """A client of its own whose GetObject calls and response bodies the test can see (botocore events)."""
    s3 = boto3.client("s3")
    seen = {"calls": 0, "bodies": []}

    def before_call(**_):
        seen["calls"] += 1

    def after_call(parsed, **_):
        if "Body" in parsed:
            seen["bodies"].append(parsed["Body"])

    s3.meta.events.register("before-call.s3.GetObject", before_call)
    s3.meta.events.register("after-call.s3.GetObject", after_call)
    return s3, seen


def test_an_object_over_its_declared_size_limit_is_refused_without_a_get(aws, watched_s3):
    s3, seen = watched_s3
    put(aws.s3, aws.bucket, b"x" * 2000)

    with pytest.raises(MediaTooLarge, match="2,000 bytes, over the limit of 1,000") as raised:
        read_object(s3, aws.bucket, KEY, size=2000, max_bytes=1000)

    assert raised.value.reason == "media_too_large"
    assert seen["calls"] == 0


def test_an_object_over_the_limit_by_content_length_is_refused_before_its_body_is_read(aws, watched_s3):
    s3, seen = watched_s3
    put(aws.s3, aws.bucket, b"x" * 2000)

    with pytest.raises(MediaTooLarge, match="2,000 bytes, over the limit of 1,000"):
        read_object(s3, aws.bucket, KEY, max_bytes=1000)  # no declared size: the GET's length counts

    (body,) = seen["bodies"]
    assert body.tell() == 0
    assert read_object(s3, aws.bucket, KEY, max_bytes=2000)[1] == b"x" * 2000  # at the limit is allowed


def test_a_presigned_url_fetches_the_object(aws):
    put(aws.s3, aws.bucket, b"shown in a gallery")

    url = presigned_url(aws.s3, aws.bucket, KEY, ttl_s=60)

    assert "Signature=" in url or "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"shown in a gallery"
