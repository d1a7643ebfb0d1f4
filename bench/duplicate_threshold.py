"""Where to put the near-duplicate threshold: cosine scores of one photo against its own re-encodes and
resizes, against other photos of the same product, and against other products, with a CLIP model
(default: the project's small test CLIP, the one the service tests index with).

GET /v1/duplicates' default `min_score` (stockmind/service/routes/duplicates.py) sits between the
lowest score of a photo's re-encodes and resizes and the highest score of another photo of the same
product: above it are copies of one photo, below it other photos. Prints min / median / max per
case, then the gap. No stack needed; runs on the CPU in under a minute.

    python bench/duplicate_threshold.py [--model stockmind-clip-small] [--products 48] [--quick]
"""

import argparse
import io
import itertools

import numpy as np
from PIL import Image

from stockmind.decode.image import ImagePreprocessor
from stockmind.dev.synthetic import BACKGROUNDS, COLORS, SHAPES, Item, render
from stockmind.embed.embedder import ClipEmbedder
from stockmind.embed.models import SMALL_CLIP

SIZE = 224
SEED = 5
THRESHOLDS = (0.95, 0.98, 0.99, 0.995, 0.997)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=SMALL_CLIP)
    parser.add_argument("--products", type=int, default=len(COLORS) * len(SHAPES))
    parser.add_argument("--quick", action="store_true", help="12 products (what `make bench-quick` runs)")
    args = parser.parse_args()
    if args.quick:
        args.products = min(args.products, 12)
    return args


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def products(n: int) -> list[Item]:
    """Products are a colour and a shape (what the CLIP was trained to tell apart), each photographed
    on its own surface, as in the service tests' catalogue."""
    pairs = list(itertools.product(range(len(COLORS)), range(len(SHAPES))))[:n]
    return [Item(list(COLORS)[c], SHAPES[s], BACKGROUNDS[(c + s) % len(BACKGROUNDS)]) for c, s in pairs]


def copies(photo: bytes) -> dict[str, bytes]:
    """What a re-upload of one photo may be: re-encoded, resized, a little cropped."""
    image = Image.open(io.BytesIO(photo))
    width, height = image.size
    return {
        "re-encoded q75": jpeg(image, 75),
        "re-encoded q50": jpeg(image, 50),
        "resized 90%": jpeg(image.resize((round(width * 0.9), round(height * 0.9)), Image.LANCZOS)),
        "resized 115%": jpeg(image.resize((round(width * 1.15), round(height * 1.15)), Image.LANCZOS)),
        "cropped 3%": jpeg(image.crop((width * 3 // 100, height * 3 // 100, width, height))),
    }


def main(args: argparse.Namespace) -> None:
    embedder = ClipEmbedder(args.model, device="cpu")
    preprocessor = ImagePreprocessor.from_pretrained(args.model, device="cpu")

    def embed(files: list[bytes]) -> np.ndarray:
        vectors = embedder.embed_images(preprocessor.preprocess_batch(files))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    items = products(args.products)
    originals = embed([jpeg(render(item, (SIZE, SIZE), seed=SEED)) for item in items])
    scores: dict[str, list[float]] = {}
    for n, item in enumerate(items):
        made = copies(jpeg(render(item, (SIZE, SIZE), seed=SEED)))
        for (name, _), vector in zip(made.items(), embed(list(made.values()))):
            scores.setdefault(name, []).append(float(vector @ originals[n]))
        # New pose, lighting and noise (another seed), on its own surface and on another one.
        others = embed([jpeg(render(item, (SIZE, SIZE), seed=SEED + k)) for k in (1, 2, 3)])
        scores.setdefault("same product, another photo", []).extend(float(v @ originals[n]) for v in others)
        moved = Item(item.color, item.shape, BACKGROUNDS[(BACKGROUNDS.index(item.background) + 1) % len(BACKGROUNDS)])
        [elsewhere] = embed([jpeg(render(moved, (SIZE, SIZE), seed=SEED))])
        scores.setdefault("same product, other surface", []).append(float(elsewhere @ originals[n]))
    scores["another product"] = [float(originals[a] @ originals[b])
                                 for a, b in itertools.combinations(range(len(items)), 2)]
    print(f"{'':28s} {'min':>7s} {'median':>7s} {'max':>7s}  share >= " + " ".join(f"{t:>6}" for t in THRESHOLDS))
    for name, values in scores.items():
        shares = " ".join(f"{np.mean(np.asarray(values) >= t):6.0%}" for t in THRESHOLDS)
        print(f"{name:28s} {min(values):7.4f} {np.median(values):7.4f} {max(values):7.4f}  {'':9s}{shares}")
    lowest_copy = min(min(values) for name, values in scores.items() if name in made)
    highest_other = max(max(values) for name, values in scores.items() if name not in made)
    print(f"gap: copies >= {lowest_copy:.4f}, other photos <= {highest_other:.4f}")


if __name__ == "__main__":
    main(parse_args())
