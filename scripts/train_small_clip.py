#!/usr/bin/env python
"""Train stockmind-clip-small on the synthetic catalogue, on the CPU, reproducibly (fixed seed).

    python scripts/train_small_clip.py            # writes stockmind/assets/stockmind-clip-small/

Saves a transformers CLIP checkpoint (safetensors, config, tokenizer, CLIPImageProcessor config)
and metrics.json, then prints the held-out figures as `name=value` lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from transformers import CLIPImageProcessor

from stockmind.dev.checkpoints import clip_processor_settings
from stockmind.dev.synthetic import all_items, shots
from stockmind.embed.models import SMALL_CLIP, resolve_model
from stockmind.training.captions import CaptionBank
from stockmind.training.data import render_training_pixels
from stockmind.training.evaluate import evaluate_checkpoint
from stockmind.training.loop import train
from stockmind.training.model import SmallClipShape, small_clip
from stockmind.training.tokenizer import build_tokenizer

MAX_CHECKPOINT_BYTES = 10 * 1024 * 1024

log = logging.getLogger("train_small_clip")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--output", type=Path, default=Path(resolve_model(SMALL_CLIP)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-shots", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--eval-shots", type=int, default=960)
    # One thread: on a shared, busy machine two threads were several times slower per step.
    parser.add_argument("--threads", type=int, default=1)
    defaults = SmallClipShape()
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--patch-size", type=int, default=defaults.patch_size)
    parser.add_argument("--width", type=int, default=defaults.width)
    parser.add_argument("--vision-layers", type=int, default=defaults.vision_layers)
    parser.add_argument("--text-layers", type=int, default=defaults.text_layers)
    return parser.parse_args()


def main(args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)  # results depend on the thread count; keep it fixed
    started = time.monotonic()
    tokenizer = build_tokenizer([text for item in all_items() for text in item.captions()])
    shape = SmallClipShape(image_size=args.image_size, patch_size=args.patch_size, width=args.width,
                           vision_layers=args.vision_layers, text_layers=args.text_layers)
    model = small_clip(tokenizer, shape)
    processor = CLIPImageProcessor(**clip_processor_settings(shape.image_size))

    training_shots = shots(args.train_shots, args.seed)
    pixels = render_training_pixels(training_shots, shape.image_size, workers=2)
    log.info("rendered %d training pictures in %.0f s", len(pixels), time.monotonic() - started)
    loss = train(model, pixels, [shot.item for shot in training_shots], CaptionBank.build(tokenizer),
                 steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                 mean=processor.image_mean, std=processor.image_std)
    train_seconds = time.monotonic() - started

    args.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output)
    tokenizer.save_pretrained(args.output)
    processor.save_pretrained(args.output)
    size = sum(path.stat().st_size for path in args.output.iterdir() if path.is_file())
    if size > MAX_CHECKPOINT_BYTES:
        raise SystemExit(f"checkpoint is {size} bytes, over the {MAX_CHECKPOINT_BYTES} budget")

    metrics = evaluate_checkpoint(str(args.output), n_shots=args.eval_shots, seed=args.seed)
    metrics |= {"final_loss": loss, "train_seconds": round(train_seconds, 1), "checkpoint_bytes": size}
    record = {"metrics": metrics, "settings": {k: str(v) if isinstance(v, Path) else v
                                               for k, v in vars(args).items() if k != "output"}}
    (args.output / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    return metrics


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name, value in main(parse_args()).items():
        print(f"{name}={value:.4f}" if isinstance(value, float) else f"{name}={value}")
