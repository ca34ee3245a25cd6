#!/usr/bin/env bash
# Run the system: the server plus a demo camera; then open http://localhost:8080/
# Arguments go to server.py (e.g. ./run.sh --http-port 9000). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh requirements.txt

camera_port=${CAMERA_PORT:-8765}
previous=
for arg in "$@"; do
  [ "$previous" = "--camera-port" ] && camera_port=$arg
  previous=$arg
done

.venv/bin/python server.py "$@" &
server=$!
# The demo camera retries with backoff until the server listens.
.venv/bin/python mock_camera.py --url "ws://127.0.0.1:${camera_port}" &
camera=$!
trap 'kill $camera $server 2>/dev/null || true; wait' EXIT INT TERM
wait $server
