#!/usr/bin/env bash
# Run the system: the server plus a demo camera, then open http://localhost:8080/
# Extra arguments go to server.py (e.g. ./run.sh --http-port 9000).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh requirements.txt

.venv/bin/python server.py "$@" &
server=$!
camera=
trap 'kill $camera $server 2>/dev/null; wait' EXIT INT TERM
# The camera reconnects with backoff by itself; start it once the server has had a moment.
sleep 1
camera_port=${CAMERA_PORT:-8765}
for ((i = 0; i < $#; i++)); do
  args=("$@"); [ "${args[i]}" = "--camera-port" ] && camera_port=${args[i+1]}
done
.venv/bin/python mock_camera.py --url "ws://127.0.0.1:${camera_port}" &
camera=$!
wait $server
