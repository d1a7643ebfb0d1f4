"""Key sources without S3: Inventory CSV rows, manifest checks, key files, prefix rules."""

from __future__ import annotations

import pytest

from stockmind.backfill.inventory import inventory_rows, manifest_columns
from stockmind.backfill.sources import ListingShard, RowsShard, client_ids_of, key_list_shards, prefix_shards
from stockmind.errors import ConfigError

COLUMNS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag")


def test_inventory_rows_decode_url_encoded_keys_and_keep_only_current_versions():
    lines = [
        '"b","clients/c1/products/s/media/image/red+shoe+%C3%A9.jpg","v2","true","false","120",'
        '"2024-05-01T12:00:00.000Z","abc"\n',
        '"b","clients/c1/products/s/media/image/old.jpg","v1","false","false","9","2023-01-01T00:00:00.000Z","x"\n',
        '"b","clients/c1/products/s/media/image/gone.jpg","v3","true","true","","2024-01-01T00:00:00.000Z",""\n',
    ]
    rows = list(inventory_rows(lines, COLUMNS))
    assert [(r["key"], r["etag"], r["size"]) for r in rows] == [
        ("clients/c1/products/s/media/image/red shoe é.jpg", "abc", 120)]
    assert rows[0]["modified_s"] == pytest.approx(1714564800.0)


def test_inventory_rows_can_be_limited_to_a_prefix():
    lines = ['"b","clients/c1/products/s/media/image/a.jpg"\n', '"b","clients/c2/products/s/media/image/a.jpg"\n']
    rows = list(inventory_rows(lines, ("Bucket", "Key"), prefix="clients/c2/"))
    assert [r["key"] for r in rows] == ["clients/c2/products/s/media/image/a.jpg"]
    assert rows[0]["etag"] is None


@pytest.mark.parametrize("manifest, message", [
    ({"fileFormat": "Parquet", "fileSchema": "message s3.inventory {}"}, "only CSV"),
    ({"fileFormat": "CSV"}, "fileSchema"),
    ({"fileFormat": "CSV", "fileSchema": "Bucket, Size"}, "lacks Key"),
])
def test_manifest_columns_refuse_what_cannot_be_read(manifest, message):
    with pytest.raises(ConfigError, match=message):
        manifest_columns(manifest, "s3://b/manifest.json")


def test_manifest_columns_follow_the_file_schema():
    assert manifest_columns({"fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, ETag"}, "m") == (
        "Bucket", "Key", "Size", "ETag")


def test_key_files_keep_spaces_and_utf8_and_skip_blank_lines(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("clients/c1/products/s/media/image/ a é.jpg\r\n\n  \nclients/c1/products/s/media/video/v.mp4\n",
                    encoding="utf-8")
    [shard] = key_list_shards("bucket", path)
    [page] = list(shard.pages())
    assert [r["key"] for r in page] == ["clients/c1/products/s/media/image/ a é.jpg",
                                        "clients/c1/products/s/media/video/v.mp4"]
    assert all(r["bucket"] == "bucket" and r["etag"] is None for r in page)


def test_key_files_are_split_into_shards_and_pages(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("".join(f"clients/c/products/s/media/image/{n}.jpg\n" for n in range(2500)))
    shards = key_list_shards("bucket", path, keys_per_shard=2000)
    assert [sum(len(page) for page in shard.pages()) for shard in shards] == [2000, 500]
    assert [len(page) for page in shards[0].pages()] == [1000, 1000]


def test_a_missing_keys_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the keys file"):
        key_list_shards("bucket", tmp_path / "absent.txt")


def test_a_prefix_outside_the_media_layout_is_refused():
    with pytest.raises(ConfigError, match="must start with 'clients/'"):
        prefix_shards("bucket", "uploads/")


def test_a_prefix_inside_one_tenant_is_one_listing_shard():
    assert prefix_shards("bucket", "clients/c1/products/") == [ListingShard("bucket", "clients/c1/products/")]


def test_client_ids_come_from_tenant_listing_shards():
    shards = [ListingShard("b", "clients/c2/"), ListingShard("b", "clients/c1/products/x/"), RowsShard(())]
    assert client_ids_of(shards) == ["c1", "c2"]
