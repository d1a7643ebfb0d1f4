#!/usr/bin/env bash
# Create or update the project's virtual environment, outside the checkout so that CI reuses it.
# The environment is keyed by a hash of requirements.txt + pyproject.toml: when they change, pip
# brings the same environment up to date (fast: most wheels are already there); on a fresh
# machine it is built from scratch (~6.5 GB, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${STOCKMIND_VENV:-$HOME/.cache/stockmind/venv}"
# The checkout's path is part of the key: the package is installed in editable mode, so a clone
# elsewhere (CI) must point the environment at itself.
key=$( (cat requirements.txt pyproject.toml; pwd) | sha256sum | cut -c1-16)
stamp="$venv/.stockmind-requirements-$key"
if [ -f "$stamp" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
echo "setting up $venv (requirements $key)" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip >&2
"$venv/bin/pip" install -q -r requirements.txt >&2
"$venv/bin/pip" install -q --no-deps -e . >&2
"$venv/bin/pip" check >&2
rm -f "$venv"/.stockmind-requirements-*
touch "$stamp"
