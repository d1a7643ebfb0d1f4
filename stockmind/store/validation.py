"""Check vectors at the store's boundary: the right shape and dimension, finite, not zero.

Vectors are normalised here rather than rejected when their norm is off: cosine ranking ignores
length, so normalising changes no result, and it keeps halfvec's precision the same for every row.
A zero vector has no direction (cosine is undefined), so it is rejected.
"""

import numpy as np

from stockmind.errors import InvalidVector
from stockmind.store.records import MediaVectors

MAX_DIM = 4000  # pgvector's HNSW limit for halfvec
_MIN_NORM = 1e-6


def checked_batch(items: list[MediaVectors]) -> list[np.ndarray]:
    """`checked_vectors` for a batch, with the value checks run once over all rows (fast for the many
    one-row images of a backfill); on a failure the item at fault is checked alone for its message."""
    matrices = [_as_matrix(item.vectors, f"{item.bucket}/{item.ref.key}") for item in items]
    by_dim: dict[int, list[int]] = {}
    for position, matrix in enumerate(matrices):
        by_dim.setdefault(matrix.shape[1], []).append(position)
    checked: list[np.ndarray | None] = [None] * len(items)
    for positions in by_dim.values():
        stacked = np.concatenate([matrices[p] for p in positions])
        norms = np.linalg.norm(stacked, axis=1, keepdims=True)
        if not (np.isfinite(norms).all() and (norms >= _MIN_NORM).all()):
            for p in positions:
                checked_vectors(items[p])  # raises for the first bad item
        unit = (stacked / norms).astype(np.float32, copy=False)
        offsets = np.cumsum([0] + [len(matrices[p]) for p in positions])
        for n, p in enumerate(positions):
            checked[p] = unit[offsets[n]:offsets[n + 1]]
    for item, matrix in zip(items, checked):
        if len(matrix) != len(item.timestamps):
            checked_vectors(item)
    return checked


def checked_vectors(item: MediaVectors) -> np.ndarray:
    """`item.vectors` as unit-norm float32 (N, D); `InvalidVector` says what is wrong and where."""
    where = f"{item.bucket}/{item.ref.key}"
    vectors = _as_matrix(item.vectors, where)
    rows = len(vectors)
    if rows != len(item.timestamps):
        raise InvalidVector(f"{where}: {rows} vectors but {len(item.timestamps)} timestamps")
    if not np.isfinite(vectors).all():
        bad = int(np.argwhere(~np.isfinite(vectors))[0][0])
        raise InvalidVector(f"{where}: vector {bad} contains NaN or infinity")
    return normalised(vectors, where)


def check_dim(dim: int, expected: int, model_id: str, where: str) -> None:
    """A model's vectors all have the dimension it was registered with (`models.dim`)."""
    if dim != expected:
        raise InvalidVector(f"{where}: expected {expected}-d vectors for model {model_id!r}, got {dim}-d")


def normalised(vectors: np.ndarray, where: str) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.isfinite(norms).all():
        bad = int(np.argmax(~np.isfinite(norms[:, 0])))
        raise InvalidVector(f"{where}: vector {bad} is too large to normalise in float32")
    if (norms < _MIN_NORM).any():
        bad = int(np.argmax(norms[:, 0] < _MIN_NORM))
        raise InvalidVector(f"{where}: vector {bad} is zero (cosine similarity is undefined)")
    return (vectors / norms).astype(np.float32, copy=False)


def _as_matrix(value: object, where: str) -> np.ndarray:
    try:
        vectors = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidVector(f"{where}: vectors are not numbers ({error})") from None
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise InvalidVector(f"{where}: expected a non-empty (N, D) array of vectors, got shape {vectors.shape}")
    if vectors.shape[1] > MAX_DIM:
        raise InvalidVector(f"{where}: {vectors.shape[1]}-d vectors exceed the {MAX_DIM}-d limit of halfvec indexes")
    return vectors
