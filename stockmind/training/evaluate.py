"""Retrieval quality on a held-out set, where relevance means "same colour + shape".

Text→image: each colour+shape query ("a red circle") against every held-out picture;
recall@k is the share of queries with a relevant picture among the top k, precision@10 the share
of relevant pictures in the top 10. Image→image: precision@5 of each picture's nearest neighbours
(itself excluded). Label accuracy: each picture's best-scoring query is its own colour+shape.
"""

from __future__ import annotations

import numpy as np


def retrieval_metrics(image_vectors: np.ndarray, image_labels: list[str],
                      query_vectors: np.ndarray, query_labels: list[str]) -> dict[str, float]:
    """Vectors are unit-norm rows; labels name the colour+shape of each picture / query."""
    images = np.asarray(image_labels)
    queries = np.asarray(query_labels)
    text_scores = query_vectors @ image_vectors.T                     # (Q, N)
    ranked = np.argsort(-text_scores, axis=1)
    relevant = images[ranked] == queries[:, None]                     # (Q, N) in rank order
    image_scores = image_vectors @ image_vectors.T
    np.fill_diagonal(image_scores, -np.inf)
    neighbours = np.argsort(-image_scores, axis=1)[:, :5]
    predicted = queries[np.argmax(image_vectors @ query_vectors.T, axis=1)]
    return {
        "text_to_image_recall_at_1": float(relevant[:, :1].any(axis=1).mean()),
        "text_to_image_recall_at_5": float(relevant[:, :5].any(axis=1).mean()),
        "text_to_image_precision_at_10": float(relevant[:, :10].mean()),
        "image_to_image_precision_at_5": float((images[neighbours] == images[:, None]).mean()),
        "image_label_accuracy": float((predicted == images).mean()),
    }


def evaluate_checkpoint(model: str, n_shots: int = 960, seed: int = 0,
                        size: tuple[int, int] = (224, 224)) -> dict[str, float]:
    """Embed `n_shots` held-out pictures (through the checkpoint's own CLIPImageProcessor) and the
    colour+shape queries with `ClipEmbedder`, the code path production uses, and score them."""
    from transformers import CLIPImageProcessor

    from stockmind.dev.synthetic import COLORS, SHAPES, held_out_shots, query_caption
    from stockmind.embed.embedder import ClipEmbedder
    from stockmind.embed.models import resolve_model

    embedder = ClipEmbedder(model)
    processor = CLIPImageProcessor.from_pretrained(resolve_model(model))
    held_out = held_out_shots(n_shots, seed)
    image_vectors = []
    for start in range(0, len(held_out), 128):
        images = [shot.image(size) for shot in held_out[start:start + 128]]
        pixels = processor(images=images, return_tensors="np")["pixel_values"]
        image_vectors.append(embedder.embed_images(pixels))
    labels = [f"{color} {shape}" for color in COLORS for shape in SHAPES]
    queries = [query_caption(*label.split()) for label in labels]
    return retrieval_metrics(np.concatenate(image_vectors), [shot.item.label for shot in held_out],
                             embedder.embed_texts(queries), labels)
