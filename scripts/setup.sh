# Sourced by run.sh and test.sh: a virtualenv in .venv with requirements installed.
# Usage: . scripts/setup.sh requirements.txt
set -euo pipefail
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Re-install only when the requirements changed since the last install.
stamp=".venv/.installed-$(cat "$1" requirements.txt | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install --disable-pip-version-check -q -r "$1"
  touch "$stamp"
fi
