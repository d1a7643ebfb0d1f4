"""Generated image files of every kind a product catalogue holds, plus hostile ones.

Each maker returns encoded bytes; the pictures are simple (flat colours, halves) so a test can say
exactly which colour must come out where.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

RED, BLUE, WHITE = (220, 20, 30), (30, 40, 210), (255, 255, 255)
ORIENTATION_TAG = 0x0112


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def top_red_bottom_blue(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width, height // 2))
    return image


def exif_rotated_jpeg() -> bytes:
    """Stored sideways (100×200) with Orientation 6: shown upright it is 200×100, red on top."""
    stored = top_red_bottom_blue(200, 100).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # "rotate 90° clockwise to display"
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def cmyk_jpeg(rgb: tuple[int, int, int] = RED) -> bytes:
    return encode(Image.new("RGB", (64, 48), rgb).convert("CMYK"), "JPEG", quality=95)


def palette_png_with_transparency() -> bytes:
    """Palette image: left half transparent (index 0), right half red (index 1)."""
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (254 * 3))
    image.paste(1, (32, 0, 64, 64))
    return encode(image, "PNG", transparency=0)


def sixteen_bit_png(value: int = 32768) -> bytes:
    """16-bit grey; 32768 is mid-grey (Pillow's own conversion to 8 bits would clip it to white)."""
    return encode(Image.fromarray(np.full((40, 40), value, np.uint16)), "PNG")


def rgba_png() -> bytes:
    """Top half fully transparent, bottom half blue at 50 % opacity."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((*BLUE, 128), (0, 32, 64, 64))
    return encode(image, "PNG")


def grey_alpha_png() -> bytes:
    """LA mode: black at 0 % opacity everywhere → white."""
    return encode(Image.new("LA", (30, 30), (0, 0)), "PNG")


def animated_webp() -> bytes:
    """Two frames: red, then blue."""
    frames = [Image.new("RGB", (48, 48), RED), Image.new("RGB", (48, 48), BLUE)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (48, 48), RED), Image.new("RGB", (48, 48), BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def grayscale_jpeg(level: int = 100) -> bytes:
    return encode(Image.new("L", (80, 60), level), "JPEG", quality=95)


def one_pixel_png(rgb: tuple[int, int, int] = RED) -> bytes:
    return encode(Image.new("RGB", (1, 1), rgb), "PNG")


def gradient(width: int, height: int) -> Image.Image:
    """A smooth photo-like picture (gradients plus a ripple) that is quick to make at any size."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 255 * x / width
    green = 255 * y / height
    blue = 127.5 + 127.5 * np.sin(x / 37.0) * np.cos(y / 23.0)
    return Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8))


def png_header_claiming(width: int, height: int) -> bytes:
    """A valid PNG header (and a tiny IDAT) that claims a huge canvas: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def jpeg_header_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is patched to claim `width`×`height`."""
    data = bytearray(encode(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    # SOF0 layout: marker(2) length(2) precision(1) height(2) width(2)
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
