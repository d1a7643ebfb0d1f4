"""The write stage's grouping: frames that arrive in different batches become one object, in order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.report import BackfillSummary, read_failure_report, write_failure_report
from stockmind.backfill.tally import Failure, Tally
from stockmind.backfill.writer import MediaWriter
from stockmind.errors import ConfigError

VIDEO = "clients/c1/products/s/media/video/v.mp4"
IMAGE = "clients/c1/products/s/media/image/a b.jpg"
# Ends in a NUL byte: the digest travels as hex because numpy's fixed-width bytes would drop it.
DIGEST = bytes(range(1, 32)) + b"\x00"


def frames(rows: list[tuple[str, int, int, float]]) -> dict[str, np.ndarray]:
    """A batch as the embedder returns it: (key, frame_no, frame_count, timestamp) per row."""
    return {
        "bucket": np.asarray(["b"] * len(rows)),
        "key": np.asarray([r[0] for r in rows]),
        "etag": np.asarray(["e"] * len(rows), dtype=object),
        "version_id": np.asarray([None] * len(rows), dtype=object),
        "size": np.asarray([10] * len(rows)),
        "modified_s": np.asarray([1714564800.0] * len(rows)),
        "content_sha256": np.asarray([DIGEST.hex()] * len(rows)),
        "frame_no": np.asarray([r[1] for r in rows]),
        "frame_count": np.asarray([r[2] for r in rows]),
        "timestamp_s": np.asarray([r[3] for r in rows]),
        "embedding": np.asarray([[float(r[1]), 1.0] for r in rows], dtype=np.float32),
    }


def test_frames_split_across_batches_are_put_back_together_in_frame_order():
    # PgVectorWriter connects lazily, so grouping runs without a database.
    writer = MediaWriter("postgresql://unused/db", "model", tally=None)
    first = writer._collect(frames([(VIDEO, 2, 3, 2.0), (IMAGE, 0, 1, math.nan), (VIDEO, 0, 3, 0.0)]))
    assert [m.ref.key for m in first] == [IMAGE]
    assert first[0].timestamps == [None]
    [video] = writer._collect(frames([(VIDEO, 1, 3, 1.0)]))
    assert video.timestamps == [0.0, 1.0, 2.0]
    assert video.vectors[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert (video.etag, video.size, video.event_time.year, video.content_sha256) == ("e", 10, 2024, DIGEST)
    assert writer._partial == {}


def test_the_tally_keeps_one_failure_per_object_and_sums_counts():
    tally = Tally()
    tally.record({"listed": 3}, [Failure("b", "k", "undecodable_media", "first")])
    tally.record({"listed": 2, "skipped": 1}, [Failure("b", "k", "undecodable_media", "retried")])
    assert tally.counts() == {"listed": 5, "skipped": 1}
    assert [f.detail for f in tally.failures()] == ["retried"]


def test_failure_reports_round_trip_with_utf8_keys(tmp_path):
    failures = [Failure("b", "clients/c/products/s/media/image/é.jpg", "media_missing", "gone")]
    write_failure_report(tmp_path / "out" / "failures.jsonl", failures)
    assert read_failure_report(tmp_path / "out" / "failures.jsonl") == failures


def test_the_summary_line_names_every_count():
    line = BackfillSummary(listed=10, skipped=2, embedded=6, unchanged=0, failed=2, frames=9, seconds=3.0).line()
    assert line == "backfill: listed=10 skipped=2 embedded=6 unchanged=0 failed=2 frames=9 seconds=3.0 rate=2.0/s"


@pytest.mark.parametrize("overrides, message", [
    ({}, "give a source"),
    ({"prefix": "clients/", "keys_file": "k.txt"}, "cannot be combined"),
    ({"prefix": "clients/", "pool_size": 0}, "at least 1"),
    ({"manifest": "s3://b/m.json", "defer_indexes": True}, "needs --prefix"),
])
def test_options_refuse_contradictions(overrides, message):
    with pytest.raises(ConfigError, match=message):
        BackfillOptions(database_url="postgresql://x/y", bucket="b", model="m", **overrides)
