"""Training our own small CLIP on the synthetic catalogue (used by scripts/train_small_clip.py)."""
