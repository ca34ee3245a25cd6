#!/usr/bin/env bash
# Run the whole test suite: Python tests (real FFmpeg, real sockets, real Chromium, Firefox ESR
# and WebKitGTK) and the firmware's host C tests. Installs what it needs: Debian's ffmpeg
# (ffprobe, ffplay), VLC, chromium, firefox-esr, WebKitGTK's WebDriver, Xvfb, gcc, openssl, nginx with
# libnginx-mod-rtmp, Caddy, and the Python packages in .venv. Nothing is downloaded at run
# time. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
missing=()      # installed with their recommends, as before
bare=()         # installed without: recommends would pull in a desktop for webkit2gtk-driver
command -v ffprobe >/dev/null || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Firefox's H.264 comes from the system libavcodec, which firefox-esr only recommends.
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
installed libavcodec59 || missing+=(libavcodec59)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
# The firmware host tests check real certificates made by openssl.
command -v openssl >/dev/null || missing+=(openssl)
# The TLS tests put the server behind a real nginx and Caddy; the restream and HLS tests use
# nginx as an RTMP server (its RTMP module) and as a caching proxy. Each test starts its own on
# a free port.
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || bare+=(libnginx-mod-rtmp)
[ -x /usr/bin/caddy ] || bare+=(caddy)
# Recording files are played in VLC (headless: its base plugins are enough) and ffplay.
[ -x /usr/bin/cvlc ] || bare+=(vlc-bin vlc-plugin-base)
# WebKitGTK: WebKitWebDriver (with MiniBrowser), a virtual display, and H.264 for GStreamer.
[ -x /usr/bin/WebKitWebDriver ] || bare+=(webkit2gtk-driver)
[ -x /usr/bin/Xvfb ] || bare+=(xvfb)
installed gstreamer1.0-libav || bare+=(gstreamer1.0-libav)
if [ $(( ${#missing[@]} + ${#bare[@]} )) -gt 0 ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  apt_install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
  $sudo apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  [ ${#bare[@]} -eq 0 ] || apt_install --no-install-recommends "${bare[@]}"
fi
. scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
