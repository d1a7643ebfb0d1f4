"""Video frame sampling with decord on H.264/mp4 and VP9/webm fixtures written by PyAV.

Each fixture shows one flat colour per second, so a sampled frame's colour proves which moment
was really decoded, whatever timestamp it is reported with.
"""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from stockmind.decode.video import frame_indices, sample_frames
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.errors import UndecodableMedia

COLOURS = [(230, 20, 20), (20, 200, 40), (30, 40, 230), (240, 220, 30)]  # seconds 0, 1, 2, 3
FPS = 10
CODECS = ["h264", "vp9"]


def colour_video(codec: str, seconds_each: float = 1.0, colours=COLOURS, size=(320, 240)) -> bytes:
    stills = [Image.new("RGB", size, colour) for colour in colours]
    return encode_video(slideshow(stills, seconds_each, FPS), FPS, codec)


@pytest.fixture(scope="module", params=CODECS)
def video(request) -> bytes:
    return colour_video(request.param)


def colour_shown_at(timestamp_s: float) -> tuple[int, int, int]:
    return COLOURS[int(timestamp_s + 1e-6)]


def assert_frame_matches_its_timestamp(frame) -> None:
    mean = frame.rgb.reshape(-1, 3).mean(axis=0)
    assert mean == pytest.approx(colour_shown_at(frame.timestamp_s), abs=12), frame.timestamp_s


def test_one_frame_per_second_with_matching_colours(video):
    frames = sample_frames(video)
    assert [frame.timestamp_s for frame in frames] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    for frame in frames:
        assert frame.rgb.shape == (240, 320, 3) and frame.rgb.dtype == np.uint8
        assert_frame_matches_its_timestamp(frame)


def test_two_frames_per_second(video):
    frames = sample_frames(video, fps=2.0)
    assert [frame.timestamp_s for frame in frames] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    for frame in frames:
        assert_frame_matches_its_timestamp(frame)


def test_cap_spreads_samples_over_the_whole_video(video):
    frames = sample_frames(video, fps=1.0, max_frames=2)
    assert [frame.timestamp_s for frame in frames] == pytest.approx([0.0, 3.0])
    for frame in frames:
        assert_frame_matches_its_timestamp(frame)


def test_rate_above_the_video_frame_rate_gives_each_frame_once(video):
    frames = sample_frames(video, fps=100.0, max_frames=1000)
    assert len(frames) == 4 * FPS
    assert len({frame.timestamp_s for frame in frames}) == len(frames)


@pytest.mark.parametrize("codec", CODECS)
def test_sub_second_video_gives_one_frame(codec):
    frames = sample_frames(colour_video(codec, seconds_each=0.5, colours=COLOURS[:1]))
    assert len(frames) == 1 and frames[0].timestamp_s == pytest.approx(0.0)
    assert_frame_matches_its_timestamp(frames[0])


def test_min_side_decodes_at_reduced_size_keeping_the_aspect(video):
    frames = sample_frames(video, min_side=120)
    assert [frame.rgb.shape for frame in frames] == [(120, 160, 3)] * 4
    for frame in frames:
        assert_frame_matches_its_timestamp(frame)


def test_min_side_never_enlarges(video):
    assert sample_frames(video, max_frames=1, min_side=1000)[0].rgb.shape == (240, 320, 3)


@pytest.mark.parametrize("min_side", [None, 32, 48])
def test_sizes_decord_decodes_badly_are_avoided(min_side):
    """decord gives frames of the wrong shape for a 96 px square video, at full size and scaled to 32
    or 48 px; a size a pixel or so away decodes correctly, never below what was asked."""
    small = colour_video("h264", size=(96, 96))
    frames = sample_frames(small, min_side=min_side)
    assert len(frames) == 4
    for frame in frames:
        height, width, channels = frame.rgb.shape
        assert channels == 3 and height == width and (min_side or 90) <= height <= 96
        assert_frame_matches_its_timestamp(frame)


def test_frame_indices_pick_the_frame_on_screen():
    starts = np.array([0.0, 0.4, 0.8, 1.2, 1.6, 2.0])
    assert frame_indices(starts, fps=1.0, max_frames=10) == [0, 2, 5]
    assert frame_indices(starts[:1], fps=1.0, max_frames=10) == [0]
    assert frame_indices(starts, fps=2.5, max_frames=10) == [0, 1, 2, 3, 4, 5]


def test_frame_indices_survive_float32_rounding_an_hour_in():
    starts = (np.arange(25 * 3600) / 25).astype(np.float32)  # decord's float32 seconds, 25 fps
    assert frame_indices(starts, fps=1.0, max_frames=10_000) == list(range(0, 25 * 3600, 25))


def test_frame_indices_cost_frames_not_ticks_for_absurd_timestamps():
    starts = np.array([0.0, 1e12, 2e12])  # a broken file: frames a billion seconds apart
    assert frame_indices(starts, fps=1.0, max_frames=64) == [0, 1, 2]


def audio_only_mp4() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        for index in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [b"", b"this is a text file that someone named clip.mp4\n" * 20, audio_only_mp4(), b"\x00" * 4096],
    ids=["empty", "text-named-mp4", "audio-only", "zeros"],
)
def test_unreadable_videos_raise_undecodable_media(data):
    with pytest.raises(UndecodableMedia, match="video"):
        sample_frames(data)


def test_truncated_mp4_without_its_index_is_undecodable():
    data = colour_video("h264")
    with pytest.raises(UndecodableMedia, match="not a readable video"):
        sample_frames(data[: len(data) * 9 // 10])  # PyAV writes the moov index last


def test_truncated_webm_gives_the_frames_it_still_holds():
    data = colour_video("vp9")
    frames = sample_frames(data[: len(data) * 6 // 10])
    assert 1 <= len(frames) < len(COLOURS)
    for frame in frames:
        assert_frame_matches_its_timestamp(frame)


@pytest.mark.parametrize("kwargs", [{"fps": 0}, {"max_frames": 0}])
def test_invalid_sampling_settings_are_rejected(video, kwargs):
    with pytest.raises(ValueError):
        sample_frames(video, **kwargs)


def test_encode_video_rejects_odd_sizes_and_unknown_codecs():
    with pytest.raises(ValueError, match="even"):
        encode_video([Image.new("RGB", (31, 30))], 10, "h264")
    with pytest.raises(ValueError, match="codec"):
        encode_video([Image.new("RGB", (32, 30))], 10, "prores")
