"""bench/gpu.py: without a GPU it refuses clearly, and its CPU dry run prints every figure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "vit_b32_fp16_images_per_s_batch256",
    "nvjpeg_decode_images_per_s_1080p", "nvjpeg_decode_images_per_s_12mp",
    "cpu_decode_images_per_s_1080p", "cpu_decode_images_per_s_12mp",
    "backfill_images_per_s_gpu", "stream_images_per_s_gpu",
    "cosine_gpu_fp16_vs_cpu_fp32_min",
]


def run_bench(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "bench/gpu.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout_s)


def figures(stdout: str) -> dict[str, str]:
    lines = [line.split("  #")[0] for line in stdout.splitlines() if "=" in line]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_exits_non_zero_and_says_why():
    result = run_bench()
    assert result.returncode == 2
    assert "no CUDA device" in result.stderr and "--dry-run-cpu" in result.stderr
    assert result.stdout == ""


def test_the_cpu_dry_run_prints_every_figure_as_a_number():
    # The end-to-end figures need a local stack (a minute or more here); the full dry run was run by hand.
    result = run_bench("--dry-run-cpu", "--skip-end-to-end")
    assert result.returncode == 0, result.stderr[-3000:]
    found = figures(result.stdout)
    assert set(FIGURES) <= set(found), result.stdout
    for name in set(FIGURES) - {"backfill_images_per_s_gpu", "stream_images_per_s_gpu"}:
        assert float(found[name]) > 0, (name, result.stdout)
    assert float(found["cosine_gpu_fp16_vs_cpu_fp32_min"]) >= 0.99
