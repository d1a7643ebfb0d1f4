#!/usr/bin/env bash
# The GPU measurements of issue #16 (bench/gpu.py), on a fresh GPU machine, offline, from the repo root:
#
#     bash bench/gpu.sh                 # < 8 minutes; name=value lines on stdout, progress on stderr
#     bash bench/gpu.sh --dry-run-cpu   # the same on the CPU at tiny sizes (no GPU needed)
#
# Python: the project's venv if it has torch; else scripts/ensure_venv.sh is tried (it needs pip's
# index or a wheel cache, so offline it may fail, bounded by STOCKMIND_VENV_SETUP_S); else the first
# python3/python on PATH that imports torch. It prints which one it used.
set -uo pipefail
cd "$(dirname "$0")/.."
venv="${STOCKMIND_VENV:-$HOME/.cache/stockmind/venv}"
setup_s="${STOCKMIND_VENV_SETUP_S:-120}"
budget_s="${STOCKMIND_GPU_BENCH_S:-450}"

has_torch() { [ -n "$1" ] && "$1" -c "import torch" >/dev/null 2>&1; }

python=""
if has_torch "$venv/bin/python"; then
  python="$venv/bin/python"
  echo "gpu.sh: using the project venv $python" >&2
elif [ "${STOCKMIND_SKIP_VENV_SETUP:-0}" != 1 ]; then
  echo "gpu.sh: no usable venv at $venv; trying scripts/ensure_venv.sh (at most ${setup_s}s)" >&2
  PIP_DEFAULT_TIMEOUT=5 PIP_RETRIES=0 timeout "$setup_s" bash scripts/ensure_venv.sh \
    || echo "gpu.sh: scripts/ensure_venv.sh failed or timed out (offline?)" >&2
  has_torch "$venv/bin/python" && python="$venv/bin/python" && echo "gpu.sh: using the new venv $python" >&2
fi
if [ -z "$python" ]; then
  for candidate in python3 python; do
    if has_torch "$(command -v "$candidate")"; then
      python="$(command -v "$candidate")"
      echo "gpu.sh: using $python from PATH (not the project venv: missing packages are reported as not_measured)" >&2
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "gpu.sh: no python with torch found (venv $venv, python3, python); nothing measured" >&2
  exit 3
fi
"$python" -c "import sys, torch; print(f'gpu.sh: {sys.executable} torch {torch.__version__} cuda_available={torch.cuda.is_available()}')" >&2
for module in torchvision transformers PIL ray psycopg boto3 moto pgvector; do
  "$python" -c "import $module" >/dev/null 2>&1 || echo "gpu.sh: warning: $python cannot import $module" >&2
done

# The checkout itself, whatever the venv's editable install points at; never the hub.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec timeout "$budget_s" "$python" bench/gpu.py "$@"
