#!/usr/bin/env bash
# Run the whole test suite: Python tests (real FFmpeg, real sockets, real Chromium) and the
# firmware's host C tests. Installs what it needs: Debian's ffmpeg (ffprobe), chromium and gcc,
# and the Python packages in .venv. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
command -v ffprobe >/dev/null || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
. scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
