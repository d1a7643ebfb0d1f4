"""Which family a checkpoint belongs to, and the shape of the vectors it makes, read from its config.

Three families load: transformers CLIP, transformers SigLIP and open_clip. The checkpoint says which:
a folder holding `open_clip_config.json`, or a name written `hf-hub:<repo>` / `local-dir:<folder>`
(open_clip's own spelling), is open_clip; otherwise the transformers `config.json`'s `model_type`
decides. Only JSON is read here (no torch, transformers or open_clip import), so a decoding process
or a CLI can ask about a model in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stockmind.embed.models import resolve_model
from stockmind.errors import ConfigError

OPEN_CLIP_CONFIG = "open_clip_config.json"
TRANSFORMERS_CONFIG = "config.json"
HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"

MAX_DIM = 4000
"""pgvector's HNSW index takes halfvec columns of up to 4000 dimensions: `stockmind.store.validation.MAX_DIM`,
restated so that asking about a model does not import the store (psycopg, its pool)."""

# What reading a config can raise: a missing file or hub entry (OSError), bad JSON or a malformed
# hub id (ValueError), a config without the expected keys (KeyError, TypeError).
CONFIG_FAILURES = (OSError, ValueError, KeyError, TypeError)


class Family(StrEnum):
    CLIP = "clip"
    SIGLIP = "siglip"
    OPEN_CLIP = "open_clip"


# transformers `model_type` → family.
TRANSFORMERS_FAMILIES = {"clip": Family.CLIP, "siglip": Family.SIGLIP}


@dataclass(frozen=True)
class CheckpointInfo:
    family: Family
    dim: int
    image_size: int


def checkpoint_info(model: str) -> CheckpointInfo:
    """The family, vector dimension and input image size of `model`, from its config alone.

    Raises ConfigError (naming the model) for a checkpoint that cannot be read, of no known family,
    or whose vectors the store cannot index."""
    family = detect_family(model)
    try:
        if family is Family.OPEN_CLIP:
            model_cfg = read_open_clip_config(model)["model_cfg"]
            info = CheckpointInfo(family, int(model_cfg["embed_dim"]),
                                  square_size(model_cfg["vision_cfg"].get("image_size", 224)))
        else:
            config = read_config(model)
            info = CheckpointInfo(family, _transformers_dim(family, config),
                                  square_size(config["vision_config"]["image_size"]))
    except CONFIG_FAILURES as error:
        raise ConfigError(f"cannot load CLIP model {model!r} ({family}): malformed config: "
                          f"{one_line(error)}") from error
    check_dim(model, info.dim)
    return info


def detect_family(model: str) -> Family:
    """open_clip by its name or its folder's `open_clip_config.json`; else the config's `model_type`."""
    path = resolve_model(model)
    if path.startswith(LOCAL_DIR_PREFIX):
        if not Path(path.removeprefix(LOCAL_DIR_PREFIX)).is_dir():
            raise ConfigError(f"cannot load CLIP model {model!r}: no such folder")
        return Family.OPEN_CLIP
    if is_open_clip(model):
        return Family.OPEN_CLIP
    _check_folder(model, path)
    model_type = read_config(model).get("model_type")
    if model_type not in TRANSFORMERS_FAMILIES:
        raise ConfigError(f"model {model!r} is a {model_type!r} checkpoint, not a CLIP, SigLIP or open_clip model")
    return TRANSFORMERS_FAMILIES[model_type]


def is_open_clip(model: str) -> bool:
    """Named in open_clip's spelling, or a folder holding open_clip's config."""
    path = resolve_model(model)
    return path.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX)) or (Path(path) / OPEN_CLIP_CONFIG).is_file()


def open_clip_name(model: str) -> str:
    """The name open_clip's factory takes: `hf-hub:`/`local-dir:` kept, a bare folder → `local-dir:`."""
    path = resolve_model(model)
    return path if path.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX)) else LOCAL_DIR_PREFIX + path


def read_config(model: str) -> dict:
    """The transformers `config.json` as a dict; ConfigError naming the model if it cannot be read."""
    return _read_json(model, resolve_model(model), TRANSFORMERS_CONFIG)


def read_open_clip_config(model: str) -> dict:
    """`open_clip_config.json` (`model_cfg` + `preprocess_cfg`) of a folder or an `hf-hub:` repo."""
    name = open_clip_name(model)
    if name.startswith(HF_HUB_PREFIX):
        return _read_json(model, name.removeprefix(HF_HUB_PREFIX), OPEN_CLIP_CONFIG)
    return _read_json(model, name.removeprefix(LOCAL_DIR_PREFIX), OPEN_CLIP_CONFIG)


def checkpoint_file(path: str, filename: str) -> Path:
    """`filename` of a folder, or of a hub repo through huggingface_hub's cache (which honours
    HF_HUB_OFFLINE), as transformers and open_clip themselves find it."""
    if Path(path).is_dir():
        return Path(path) / filename
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(path, filename))


def check_dim(model: str, dim: int) -> None:
    if dim > MAX_DIM:
        raise ConfigError(f"model {model!r} makes {dim}-dimensional vectors; the store's HNSW index holds "
                          f"at most {MAX_DIM} dimensions (pgvector halfvec)")


def square_size(size: int | list[int] | tuple[int, int]) -> int:
    """A vision tower's input size as one number; the pipeline feeds square pixels only."""
    if isinstance(size, int):
        return size
    height, width = size
    if height != width:
        raise ValueError(f"non-square image size {height}x{width} is not supported")
    return int(height)


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _transformers_dim(family: Family, config: dict) -> int:
    if family is Family.CLIP:
        return int(config.get("projection_dim", 512))
    # SigLIP has no projection of the image: its pooled vision state is the vector, and the text
    # head projects to the same width.
    vision = int(config["vision_config"].get("hidden_size", 768))
    text_config = config.get("text_config", {})
    text = int(text_config.get("projection_size") or text_config.get("hidden_size", 768))
    if vision != text:
        raise ValueError(f"image vectors have {vision} dimensions, text vectors {text}")
    return vision


def _check_folder(model: str, path: str) -> None:
    """A path-looking name that is not a folder fails here, not as a hub lookup of a strange repo id."""
    if not Path(path).is_dir() and (Path(path).is_absolute() or path.startswith(".")):
        raise ConfigError(f"cannot load CLIP model {model!r}: no such folder")


def _read_json(model: str, path: str, filename: str) -> dict:
    try:
        config = json.loads(checkpoint_file(path, filename).read_text())
    except CONFIG_FAILURES as error:
        raise ConfigError(f"cannot load CLIP model {model!r}: cannot read its {filename}: {one_line(error)}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"cannot load CLIP model {model!r}: its {filename} is not a JSON object")
    return config
