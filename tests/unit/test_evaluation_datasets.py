import math

import pytest

from stockmind.decode.video import sample_frames
from stockmind.evaluation.datasets import Dataset, LabelledMedia, read_manifest, read_text, synthetic_dataset
from stockmind.media.keys import parse_media_key
from stockmind.media.types import MediaType

VIDEO_KEY = "clients/acme/products/SKU-1/media/video/reel.mp4"
IMAGE_KEY = "clients/acme/products/SKU-2/media/image/a.jpg"


def test_a_video_label_follows_the_second_shown_with_slack_for_rounded_timestamps():
    video = LabelledMedia(VIDEO_KEY, MediaType.VIDEO, ("red circle", "blue star", "green ring"))
    assert video.label_at(0.0) == "red circle"
    assert video.label_at(0.9995) == "blue star"  # a frame starting at 1 s, rounded down by the container
    assert video.label_at(2.5) == "green ring"
    assert video.label_at(9.0) == "green ring"  # past the last label: it stays on screen
    assert video.label_at(None) == "red circle"


def test_an_image_has_exactly_one_label():
    with pytest.raises(ValueError, match="exactly one label"):
        LabelledMedia(IMAGE_KEY, MediaType.IMAGE, ("red circle", "blue star"))
    with pytest.raises(ValueError, match="non-empty label"):
        LabelledMedia(IMAGE_KEY, MediaType.IMAGE, ("",))


def test_a_dataset_needs_a_query_for_every_label_and_judges_only_its_own_media():
    media = (LabelledMedia(IMAGE_KEY, MediaType.IMAGE, ("red circle",)),)
    with pytest.raises(ValueError, match="without a query"):
        Dataset(media, {})
    dataset = Dataset(media, {"red circle": "a red circle"})
    assert dataset.client_ids == ["acme"]
    assert dataset.label_of(IMAGE_KEY, None) == "red circle"
    assert dataset.label_of("clients/acme/products/X/media/image/other.jpg", None) is None


def test_synthetic_dataset_gives_each_tenant_photos_and_videos_whose_frames_match_their_labels():
    dataset, files = synthetic_dataset(tenants=2, images_per_tenant=5, videos_per_tenant=1, video_seconds=3, seed=4)
    assert dataset.client_ids == ["eval-0", "eval-1"]
    assert [len(dataset.of(c, MediaType.IMAGE)) for c in dataset.client_ids] == [5, 5]
    assert sum(f.media.key.endswith(".png") for f in files) == 2  # every fifth photo is a PNG
    video = next(f for f in files if f.media.media_type is MediaType.VIDEO)
    assert len(video.media.labels) == 3
    assert len(sample_frames(video.data, fps=1.0)) == 3
    assert all(query.startswith(("a ", "an ")) for query in dataset.queries.values())


def test_synthetic_dataset_is_deterministic_and_differs_by_seed():
    first = synthetic_dataset(1, 3, seed=1)[1]
    assert [f.data for f in first] == [f.data for f in synthetic_dataset(1, 3, seed=1)[1]]
    assert [f.data for f in first] != [f.data for f in synthetic_dataset(1, 3, seed=2)[1]]


def test_read_manifest_takes_per_second_video_labels_and_optional_queries():
    dataset = read_manifest(
        "key,label,query\n"
        f"{IMAGE_KEY},red handbag,a red leather handbag\n"
        f"{VIDEO_KEY},red handbag|blue shoe,\n"
    )
    assert dataset.queries == {"red handbag": "a red leather handbag", "blue shoe": "blue shoe"}
    assert dataset.label_of(VIDEO_KEY, 1.2) == "blue shoe"


@pytest.mark.parametrize("text, message", [
    ("path,label\nx,y\n", "columns key,label"),
    (f"key,label\n{IMAGE_KEY},\n", "empty label"),
    ("key,label\nnot/a/media/key.jpg,red\n", "invalid media key"),
])
def test_read_manifest_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(text)


def test_read_text_reads_a_local_file_and_refuses_an_s3_uri_without_a_key(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("key,label\n")
    assert read_text(str(path)) == "key,label\n"
    with pytest.raises(ValueError, match="s3://bucket/key"):
        read_text("s3://bucket-only", s3=object())


def test_each_tenant_sells_its_own_draw_of_products_with_several_photos_each():
    dataset, _ = synthetic_dataset(tenants=2, images_per_tenant=24, videos_per_tenant=1, video_seconds=2,
                                   labels_per_tenant=4, seed=3)
    first, second = (set(dataset.labels(c)) for c in dataset.client_ids)
    assert len(first) == len(second) == 4
    assert first != second
    photos = [m.labels[0] for m in dataset.of("eval-0", MediaType.IMAGE)]
    assert all(photos.count(label) >= 3 for label in first)
    with pytest.raises(ValueError, match="labels_per_tenant"):
        synthetic_dataset(1, 1, labels_per_tenant=0)


def test_photos_of_one_product_share_a_sku_up_to_photos_per_sku():
    dataset, _ = synthetic_dataset(tenants=1, images_per_tenant=24, labels_per_tenant=3, photos_per_sku=4, seed=3)
    photos = [(parse_media_key(m.key), m.labels[0]) for m in dataset.of("eval-0", MediaType.IMAGE)]
    skus: dict[str, list[str]] = {}
    for ref, label in photos:
        skus.setdefault(ref.sku, []).append(label)
    assert all(len(labels) <= 4 and len(set(labels)) == 1 for labels in skus.values())
    labels = [label for _, label in photos]
    assert len(skus) == sum(math.ceil(labels.count(label) / 4) for label in set(labels))  # as few SKUs as can be
    assert len({ref.key for ref, _ in photos}) == 24
    one_each, _ = synthetic_dataset(tenants=1, images_per_tenant=5, seed=3)
    assert len({parse_media_key(m.key).sku for m in one_each.media}) == 5
    with pytest.raises(ValueError, match="photos_per_sku"):
        synthetic_dataset(1, 1, photos_per_sku=0)
