# Sourced by the other scripts: create .venv once, install digitnet (editable) with the
# extras named in $1 ("train" or "test"), and put .venv/bin first on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
export PATH="$PWD/.venv/bin:$PATH"
