"""The synthetic product catalogue: coloured shapes photographed on textured surfaces.

No pretrained CLIP can be downloaded on the build machines, so the project trains its own small
CLIP on these pictures, and the same generator makes the tests' fixtures, the demo catalogue and
the notebooks' evaluation sets. Everything is deterministic given a seed.

The shape always lies inside the centred square of the picture (whatever its aspect ratio), so a
CLIP preprocessor's shortest-edge resize + centre crop never cuts it away.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Chosen far apart in RGB so a per-picture colour jitter never turns one into another.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (210, 30, 35),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 35),
    "green": (35, 155, 60),
    "blue": (35, 75, 215),
    "purple": (125, 45, 170),
    "black": (22, 22, 24),
    "white": (246, 246, 242),
}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# Names read naturally after "on a"; none is strongly coloured, so the shape's colour stays the
# dominant colour of the picture.
BACKGROUNDS: tuple[str, ...] = (
    "wooden table",
    "white backdrop",
    "concrete floor",
    "marble counter",
    "slate tile",
    "linen cloth",
)

# Training variety: the model must match short queries ("a red circle") as well as full captions.
CAPTION_TEMPLATES: tuple[str, ...] = (
    "{a} {color} {shape} on a {background}",
    "a photo of {a} {color} {shape} on a {background}",
    "{a} {color} {shape}",
    "a photo of {a} {color} {shape}",
    "{color} {shape}",
    "product shot of {a} {color} {shape} on a {background}",
    "{a} {shape} in {color} on a {background}",
    "{a} {shape} in {color}",
)

# Render seeds at or above this offset are reserved for held-out evaluation sets.
HELD_OUT_SEED_OFFSET = 2**31
# Consecutive seeds of shots()/held_out_shots() get disjoint ranges of render seeds.
_SEED_STRIDE = 10_000_000


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def query_caption(color: str, shape: str) -> str:
    """The short text query for a colour + shape ("a red circle", "an orange star")."""
    return f"{_article(color)} {color} {shape}"


@dataclass(frozen=True)
class Item:
    """One catalogue product: a coloured shape on a background."""

    color: str
    shape: str
    background: str

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ValueError(f"unknown color {self.color!r}; expected one of {sorted(COLORS)}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {SHAPES}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; expected one of {BACKGROUNDS}")

    @property
    def caption(self) -> str:
        """The canonical caption: "a red circle on a wooden table"."""
        return self.captions()[0]

    @property
    def label(self) -> str:
        """What a search for this product should match: colour + shape ("red circle")."""
        return f"{self.color} {self.shape}"

    def captions(self) -> list[str]:
        """Every caption template filled in for this item (the first is the canonical one)."""
        fields = {"a": _article(self.color), "color": self.color, "shape": self.shape,
                  "background": self.background}
        return [template.format(**fields) for template in CAPTION_TEMPLATES]


def all_items() -> list[Item]:
    """Every colour × shape × background combination, in a fixed order."""
    return [Item(c, s, b) for c, s, b in itertools.product(COLORS, SHAPES, BACKGROUNDS)]


def catalogue(n: int, seed: int = 0) -> list[Item]:
    """`n` items, balanced: each pass over the shuffled combinations uses each one once."""
    if n < 0:
        raise ValueError(f"expected n >= 0, got {n}")
    rng = random.Random(seed)
    items: list[Item] = []
    while len(items) < n:
        batch = all_items()
        rng.shuffle(batch)
        items.extend(batch[: n - len(items)])
    return items


@dataclass(frozen=True)
class Shot:
    """One photograph of an item: the item plus the seed that fixes its pose, lighting and noise."""

    item: Item
    seed: int

    def image(self, size: tuple[int, int] = (224, 224)) -> Image.Image:
        return render(self.item, size=size, seed=self.seed)


def shots(n: int, seed: int = 0) -> list[Shot]:
    """`n` training-side photos of a balanced catalogue; render seeds stay below the held-out range."""
    base = seed * _SEED_STRIDE
    if seed < 0 or n > _SEED_STRIDE or base + n > HELD_OUT_SEED_OFFSET:
        raise ValueError(f"expected 0 <= seed < {HELD_OUT_SEED_OFFSET // _SEED_STRIDE} and "
                         f"n <= {_SEED_STRIDE}, got seed={seed}, n={n}")
    return [Shot(item, base + i) for i, item in enumerate(catalogue(n, seed))]


def held_out_shots(n: int, seed: int = 0) -> list[Shot]:
    """`n` photos whose render seeds no `shots()` call ever uses: the evaluation set."""
    items = catalogue(n, seed + 7919)
    if seed < 0 or n > _SEED_STRIDE:
        raise ValueError(f"expected seed >= 0 and n <= {_SEED_STRIDE}, got seed={seed}, n={n}")
    base = HELD_OUT_SEED_OFFSET + seed * _SEED_STRIDE
    return [Shot(item, base + i) for i, item in enumerate(items)]


# --------------------------------------------------------------------------- rendering


def render(item: Item, size: tuple[int, int] = (224, 224), seed: int = 0) -> Image.Image:
    """Photograph `item` at `size` = (width, height): textured surface with a lighting gradient,
    soft shadow, the shape with random position/scale/rotation and colour jitter, sensor noise.

    Full-resolution work is done with PIL operations on 8-bit images only, so a 1920×1080 render
    stays in the tens of milliseconds; textures are made small and upscaled."""
    width, height = size
    if width < 16 or height < 16:
        raise ValueError(f"expected a size of at least 16×16, got {width}×{height}")
    rng = np.random.default_rng(seed)
    canvas = _background(item.background, width, height, rng)
    mask = _shape_mask(item.shape, width, height, rng)
    canvas = _drop_shadow(canvas, mask, rng)
    color = np.clip(np.array(COLORS[item.color], np.float32) + rng.normal(0, 8, 3), 0, 255)
    canvas = Image.composite(_shaded_fill(color, width, height), canvas, mask)
    return _add_noise(canvas, rng)


def _background(name: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """The surface: a texture made at most 192 px wide, lit from a random side, then upscaled."""
    tex_w, tex_h = min(width, 192), min(height, 192)
    texture = _TEXTURES[name](tex_w, tex_h, rng)
    x, y = _grid(tex_w, tex_h)
    direction = rng.uniform(-1, 1, 2)
    gain = rng.normal(1.0, 0.04) + 0.08 * ((x - 0.5) * direction[0] + (y - 0.5) * direction[1])
    texture = np.clip(texture * gain[..., None], 0, 255).astype(np.uint8)
    image = Image.fromarray(texture)
    return image if image.size == (width, height) else image.resize((width, height), Image.BILINEAR)


def _smooth_noise(width: int, height: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid bilinearly upscaled."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.linspace(0, 1, width, dtype=np.float32),
                       np.linspace(0, 1, height, dtype=np.float32))


def _wood(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid(width, height)
    warp = _smooth_noise(width, height, rng, 4)
    grain = 0.5 + 0.5 * np.sin((y * rng.uniform(18, 30) + warp * 4.0) * math.pi)
    base = np.array([150, 100, 60], np.float32) + rng.normal(0, 10, 3)
    return base * (0.8 + 0.25 * grain[..., None])


def _studio(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    _, y = _grid(width, height)
    level = rng.uniform(222, 236) - 18 * y
    return np.repeat(level[..., None], 3, axis=2)


def _concrete(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    speckle = rng.random((height, width)).astype(np.float32)
    blotch = _smooth_noise(width, height, rng, 6)
    level = rng.uniform(120, 150) + 30 * (blotch - 0.5) + 14 * (speckle - 0.5)
    return np.repeat(level[..., None], 3, axis=2)


def _marble(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid(width, height)
    warp = _smooth_noise(width, height, rng, 5)
    vein = np.abs(np.sin((x * 3 + y * 2 + warp * 3) * math.pi)) ** 0.3
    level = 200 + 35 * vein
    return np.stack([level, level, level * 0.98], axis=2)


def _slate(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    blotch = _smooth_noise(width, height, rng, 8)
    level = rng.uniform(70, 85) + 20 * (blotch - 0.5)
    return np.stack([level, level * 1.04, level * 1.1], axis=2)


def _linen(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid(width, height)
    period = rng.uniform(50, 80)
    weave = np.sin(x * period * math.pi) * np.sin(y * period * math.pi)
    base = np.array([205, 192, 170], np.float32) + rng.normal(0, 6, 3)
    return base * (0.94 + 0.06 * weave[..., None])


_TEXTURES = {
    "wooden table": _wood,
    "white backdrop": _studio,
    "concrete floor": _concrete,
    "marble counter": _marble,
    "slate tile": _slate,
    "linen cloth": _linen,
}


def _shape_mask(shape: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """An 'L' mask of the shape placed inside the centred square of side min(width, height)."""
    side = min(width, height)
    radius = side * rng.uniform(0.2, 0.32)
    slack = side / 2 - radius * 1.05
    cx = width / 2 + rng.uniform(-slack, slack)
    cy = height / 2 + rng.uniform(-slack, slack)
    angle = rng.uniform(-0.35, 0.35)  # radians; small enough that a square never reads as a diamond
    mask = Image.new("L", (width, height), 0)
    _DRAWERS[shape](ImageDraw.Draw(mask), cx, cy, radius, angle)
    return mask


def _rotated(points: list[tuple[float, float]], cx: float, cy: float, radius: float,
             angle: float) -> list[tuple[float, float]]:
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos)) for x, y in points]


def _regular(count: int, start: float) -> list[tuple[float, float]]:
    return [(math.cos(start + 2 * math.pi * k / count), math.sin(start + 2 * math.pi * k / count))
            for k in range(count)]


def _draw_circle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, _angle: float) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)


def _draw_ring(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, _angle: float) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    hole = r * 0.55
    draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=0)


def _draw_square(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    corners = [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
    draw.polygon(_rotated(corners, cx, cy, r, angle), fill=255)


def _draw_triangle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    draw.polygon(_rotated(_regular(3, -math.pi / 2), cx, cy, r, angle), fill=255)


def _draw_star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    outer = _regular(5, -math.pi / 2)
    inner = [(0.42 * x, 0.42 * y) for x, y in _regular(5, -math.pi / 2 + math.pi / 5)]
    points = [p for pair in zip(outer, inner) for p in pair]
    draw.polygon(_rotated(points, cx, cy, r, angle), fill=255)


def _draw_cross(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float) -> None:
    a, b = 0.3, 0.95
    points = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a),
              (-b, a), (-b, -a), (-a, -a)]
    draw.polygon(_rotated(points, cx, cy, r, angle), fill=255)


_DRAWERS = {
    "circle": _draw_circle,
    "square": _draw_square,
    "triangle": _draw_triangle,
    "star": _draw_star,
    "ring": _draw_ring,
    "cross": _draw_cross,
}


def _drop_shadow(canvas: Image.Image, mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A soft offset shadow: it outlines light shapes on light surfaces, as in a real studio.
    The blur runs on a reduced mask (blur is the costly step at full resolution)."""
    side = min(mask.size)
    offset = int(side * rng.uniform(0.01, 0.025)) + 1
    shadow = mask.transform(mask.size, Image.AFFINE, (1, 0, -offset, 0, 1, -offset))
    small = shadow.reduce(max(1, side // 256)) if side >= 512 else shadow
    small = small.filter(ImageFilter.BoxBlur(max(1, min(small.size) // 60)))
    shadow = small.resize(mask.size, Image.BILINEAR) if small.size != mask.size else small
    darker = canvas.point(lambda v: int(v * 0.55))
    return Image.composite(darker, canvas, shadow)


def _shaded_fill(color: np.ndarray, width: int, height: int) -> Image.Image:
    """The shape's colour with a gentle top-to-bottom shading, so it looks lit, not flat."""
    shade = np.linspace(1.06, 0.92, 64, dtype=np.float32)[:, None, None]
    column = np.clip(color[None, None, :] * shade, 0, 255).astype(np.uint8)
    return Image.fromarray(column).resize((width, height), Image.BILINEAR)


def _add_noise(canvas: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Sensor noise from a small repeated tile (fast at any size); stored offset by +16 so it fits
    in uint8, and taken back off by ImageChops.add's offset."""
    width, height = canvas.size
    tile = _noise_tile(int(rng.integers(0, 8)))
    noise = np.tile(tile, (height // 64 + 1, width // 64 + 1, 1))[:height, :width]
    return ImageChops.add(canvas, Image.fromarray(noise), offset=-_NOISE_OFFSET)


_NOISE_OFFSET = 16


@lru_cache(maxsize=8)
def _noise_tile(index: int) -> np.ndarray:
    noise = np.random.default_rng(index).normal(0, 3.0, (64, 64, 3))
    return np.clip(noise + _NOISE_OFFSET, 0, 2 * _NOISE_OFFSET).astype(np.uint8)
