#!/usr/bin/env python3
"""Glass-to-glass delay of the web pages in headless Chromium (not a test: it prints numbers).

Starts ``server.py`` and ``mock_camera.py --mark`` on free ports, then opens the H.264 page on its
WebCodecs path (``/?mode=webcodecs``) and on its MSE path (``/?mode=mse``), and the MJPEG page
(``/mjpeg``), one after the other in Debian's headless Chromium. The pages use the viewer
WebSocket as users get it, ``/ws/<camera>`` on the HTTP port (``--ws-port``: the separate viewer
port instead).

- Arrival: a separate ``format=mjpeg`` viewer WebSocket in this process reads each frame's
  server arrival time (Unix ms) from the message header and the frame number from the bar code
  that ``--mark`` draws into the JPEG.
- Display: a script added to the page reads the bar code back from the pixels that are shown:
  on the MSE path in every ``requestVideoFrameCallback`` (the video frame drawn to a small
  canvas; display time = the callback's ``expectedDisplayTime``), on the WebCodecs path and the
  MJPEG page (both draw on a canvas) in the first animation frame after each draw (the page's
  canvas read back; display time = that animation frame; ``canvas_presentation.py`` checks it
  against Chrome's trace for the MJPEG page).
- Delay = display time - arrival time of the same frame number, both on this machine's clock.
  Stalls = ``waiting`` events plus times the shown frame did not change for over 200 ms.
- The delay each page displays in its statistics is sampled every second and compared with the
  median measured over the same second.

Usage: ``python benchmarks/glass_to_glass.py [--runs 8] [--seconds 30] [--warmup 5]
[--pages webcodecs,mse,mjpeg]``. Each run starts a fresh server and camera and measures every
page; with ``--runs`` over 1 a table of every run's p50/p95 per page follows. ``--seconds 600``
also prints the delay after 30 s and per minute, to check that it does not creep up over long
playback.

``--https`` serves the pages over TLS with a throwaway self-signed certificate for the name
``camserver.test`` (Chromium maps it to 127.0.0.1 and is told to accept the certificate): not
localhost, so WebCodecs exists there only because the page is https. ``--https front`` (default)
puts a TLS terminating proxy of this script's own in front of the HTTP port; ``--https server``
gives the certificate to ``server.py --tls-cert/--tls-key`` (cameras stay plain). First
it checks that the same page over plain http at that name has no VideoDecoder.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from mock_camera import MARK_BITS, MARK_BLOCK  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
HEADER = struct.Struct(">Id")
CAMERA = "bench"
# page kind: (path, query, the element showing the picture)
PAGES = {"webcodecs": ("/", "&mode=webcodecs", "canvas"), "mse": ("/", "&mode=mse", "video"),
         "mjpeg": ("/mjpeg", "", "canvas")}
NAMES = {"webcodecs": "H.264 page, WebCodecs (/?mode=webcodecs)",
         "mse": "H.264 page, MSE (/?mode=mse)", "mjpeg": "MJPEG page (/mjpeg)"}
TLS_NAME = "camserver.test"

# Added to the page: reads the bar code of each shown frame into window.__bench.
PROBE_JS = r"""
(kind) => {
  const BITS = %d, BLOCK = %d;
  const out = window.__bench = [];
  window.__benchWaiting = 0;
  const strip = document.createElement("canvas");
  strip.width = BITS * BLOCK; strip.height = BLOCK;
  const sctx = strip.getContext("2d", { willReadFrequently: true });
  const decode = (data) => {
    let n = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const i = (bit * BLOCK + BLOCK / 2) * 4;
      const luma = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      n = n * 2 + (luma > 128 ? 1 : 0);
    }
    return n;
  };
  if (kind === "mse") {
    const video = document.querySelector("video");
    video.addEventListener("waiting", () => { if (!video.seeking) window.__benchWaiting++; });
    let last = -1;
    let lastCameraFrame = null;  // media time (ticks) of the camera frame last read
    const onFrame = (now, meta) => {
      video.requestVideoFrameCallback(onFrame);
      // A repeat (camserver/media/repeat.py) of a camera frame already read shows nothing new: skip
      // the read-back, which costs the page's main thread at 60 per second.
      const source = window.livePlayer.cameraFrameBefore(Math.round(meta.mediaTime * 90000) + 1);
      if (source != null && source === lastCameraFrame) return;
      lastCameraFrame = source;
      const h = meta.height;
      sctx.drawImage(video, 0, h - BLOCK, BITS * BLOCK, BLOCK, 0, 0, BITS * BLOCK, BLOCK);
      const row = sctx.getImageData(0, BLOCK / 2, BITS * BLOCK, 1).data;
      const n = decode(row);
      // A camera frame counts when it first reaches the screen (the server's repeats show it
      // again: see camserver/media/repeat.py).
      if (n === last) return;
      last = n;
      out.push({ n, shown: performance.timeOrigin + meta.expectedDisplayTime,
                 mediaTime: meta.mediaTime, w: meta.width, h });
    };
    video.requestVideoFrameCallback(onFrame);
  } else {
    // Read the canvas in the first animation frame after each draw, as the page itself does. A
    // probe that asked for every animation frame would keep Chrome making a main frame at the
    // start of every refresh, so the first one after a draw could be up to a refresh later:
    // the probe would report the frame later than it is shown. (Chrome's trace shows the
    // page's desynchronized canvas presented ~2 ms after the draw either way.) The WebCodecs
    // path and the MJPEG page both draw on #canvas.
    const canvas = document.querySelector("#canvas");
    const ctx = canvas.getContext("2d");
    const draw = ctx.drawImage;
    let last = -1, requested = false;
    ctx.drawImage = function (...args) {
      draw.apply(this, args);
      if (requested) return;
      requested = true;
      requestAnimationFrame(() => {
        requested = false;
        const shown = performance.timeOrigin + performance.now();
        if (canvas.height < BLOCK) return;
        const row = ctx.getImageData(0, canvas.height - BLOCK / 2, BITS * BLOCK, 1).data;
        const n = decode(row);
        if (n !== last) {
          last = n;
          out.push({ n, shown, w: canvas.width, h: canvas.height });
        }
      });
    };
  }
}
""" % (MARK_BITS, MARK_BLOCK)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def make_certificate(directory: str) -> tuple[str, str]:
    """A throwaway self-signed certificate and key for TLS_NAME (openssl)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", f"/CN={TLS_NAME}",
                    "-addext", f"subjectAltName=DNS:{TLS_NAME}"],
                   check=True, capture_output=True)
    return cert, key


class TlsFront:
    """A TLS terminating TCP proxy in front of 127.0.0.1:``target`` (its own thread and event
    loop, so the benchmark's own work does not delay it): what a reverse proxy with a
    certificate does, for a server that has no TLS of its own."""

    def __init__(self, cert: str, key: str, target: int):
        self.target = target
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                writer.close()

        async def handle(reader, writer):
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", self.target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        async def serve():
            await asyncio.start_server(handle, "127.0.0.1", self.port, ssl=self.context)
            started.set()

        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class Processes:
    """The server and the marked mock camera, as a user starts them. ``https``: None, "front"
    (a TLS proxy in front of the HTTP port) or "server" (server.py's own --tls-cert)."""

    def __init__(self, fps: float, width: int, height: int, jitter_ms: float = 0,
                 https: str | None = None, tls_files: tuple[str, str] | None = None):
        self.http, self.cam, self.view = free_port(), free_port(), free_port()
        self.front = None
        # The mock camera on this machine stays on plain ws:// (--no-camera-tls): only the
        # pages' path (HTTP and viewer ports) is measured through TLS.
        tls_args = ["--tls-cert", tls_files[0], "--tls-key", tls_files[1], "--no-camera-tls"] \
            if https == "server" else []
        self.server = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--http-port",
             str(self.http), "--camera-port", str(self.cam), "--viewer-port", str(self.view),
             *tls_args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.server.stdout:
            if "Server is ready!" in line:
                break
        else:
            raise SystemExit("server did not start")
        # Keep draining the server's output so it never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.server.stdout], daemon=True).start()
        if https == "front":
            self.front = TlsFront(*tls_files, self.http)
        # Where pages are opened.
        if https:
            self.base = f"https://{TLS_NAME}:{self.front.port if self.front else self.http}"
        else:
            self.base = f"http://127.0.0.1:{self.http}"
        url = f"ws://127.0.0.1:{self.cam}"
        command = [sys.executable, str(ROOT / "mock_camera.py"), "--url", url, "--camera-id",
                   CAMERA, "--mark", "--fps", str(fps), "--width", str(width), "--height",
                   str(height), "--jitter", str(jitter_ms)]
        self.camera = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        # SIGTERM, not SIGINT: a benchmark started in the background (`&`, nohup) passes on
        # SIGINT ignored, and the camera would then never stop. Whatever interrupts the wait
        # (a second Ctrl-C, `timeout`), nothing is left running.
        if self.front is not None:
            self.front.stop()
        for proc in (self.camera, self.server):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        try:
            for proc in (self.camera, self.server):
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for proc in (self.camera, self.server):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def unverified_tls():
    """A client TLS context for this script's own throwaway certificate on 127.0.0.1."""
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Arrivals:
    """Frame number -> server arrival time (Unix ms), from a format=mjpeg viewer."""

    def __init__(self, url: str):
        self.url = url
        self.by_frame: dict[int, float] = {}
        self.seq_offset: int | None = None  # frame number = seq - seq_offset
        self.by_seq: dict[int, float] = {}

    def lookup(self, n: int) -> float | None:
        if n in self.by_frame:
            return self.by_frame[n]
        if self.seq_offset is not None:
            return self.by_seq.get(n + self.seq_offset)
        return None

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        while True:
            try:
                # The viewer port speaks wss under --https server (a throwaway certificate).
                secure = {"ssl": unverified_tls()} if self.url.startswith("wss:") else {}
                async with connect(self.url, compression=None, max_size=2**23, **secure) as ws:
                    async for message in ws:
                        if isinstance(message, str):
                            continue
                        seq, arrival = HEADER.unpack_from(message)
                        self.by_seq[seq] = arrival
                        image = Image.open(io.BytesIO(memoryview(message)[HEADER.size:]))
                        full_width, full_height = image.size
                        # The bar code's 16x16 blocks are aligned to JPEG blocks: a 1/8 scale
                        # decode (DC only) reads them exactly and costs almost nothing.
                        image.draft("L", (full_width // 8, full_height // 8))
                        gray = image.convert("L")
                        factor = full_width / gray.width
                        y = int((full_height - MARK_BLOCK // 2) / factor)
                        n = 0
                        for bit in range(MARK_BITS):
                            x = int((bit * MARK_BLOCK + MARK_BLOCK // 2) / factor)
                            n = n * 2 + (gray.getpixel((x, y)) > 128)
                        self.by_frame[n] = arrival
                        self.seq_offset = seq - n
            except (OSError, Exception) as exc:  # the benchmark survives a reconnect
                if isinstance(exc, asyncio.CancelledError):
                    raise
                await asyncio.sleep(0.2)


async def launch(browser_type):
    """A fresh headless Chromium (its own profile), which takes TLS_NAME for 127.0.0.1 and the
    benchmark's throwaway certificate."""
    return await browser_type.launch_persistent_context(
        tempfile.mkdtemp(prefix="g2g-chromium-"), executable_path=CHROMIUM,
        args=CHROMIUM_ARGS + [f"--host-resolver-rules=MAP {TLS_NAME} 127.0.0.1"],
        headless=True, viewport={"width": 1000, "height": 800}, ignore_https_errors=True)


async def check_plain_http_has_no_webcodecs(browser_type, procs: Processes) -> str:
    """The same page over plain http at TLS_NAME (not localhost, not https): no VideoDecoder,
    so the page plays through MSE. Returns what the page says."""
    context = await launch(browser_type)
    try:
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(f"http://{TLS_NAME}:{procs.http}/?camera={CAMERA}")
        await page.wait_for_function("window.liveStats && window.liveStats.frames > 5",
                                     timeout=30000)
        found = await page.evaluate("() => [window.isSecureContext, typeof VideoDecoder, "
                                    "document.querySelector('[data-stat=path]').textContent]")
        return (f"isSecureContext {found[0]}, VideoDecoder {found[1]}, path shown: {found[2]}")
    finally:
        await context.close()


async def measure_page(browser_type, procs: Processes, arrivals: Arrivals, kind: str,
                       seconds: float, warmup: float, query: str = "",
                       ws_port: bool = False) -> dict:
    path, mode, _ = PAGES[kind]
    url = f"{procs.base}{path}?camera={CAMERA}{mode}{query}"
    if ws_port:
        url += f"&ws_port={procs.view}"
    context = await launch(browser_type)
    try:
        page = context.pages[0] if context.pages else await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(url)
        page_path = await page.evaluate("() => document.querySelector('[data-stat=path]')"
                                        ".textContent")
        secure = await page.evaluate("() => window.isSecureContext")
        await page.evaluate(PROBE_JS, kind)
        try:
            await page.wait_for_function("window.__bench.length > 5", timeout=30000)
        except Exception:
            raise SystemExit(f"{kind} page shows no video; page errors: {errors}")
        await asyncio.sleep(warmup)
        await page.evaluate("() => { window.__bench.length = 0; window.__benchWaiting = 0; }")
        samples: list[dict] = []
        displayed: list[tuple[float, float, float | None]] = []  # (t, displayed, measured)
        start = time.time() * 1000
        windows: list[tuple[float, float]] = []  # (elapsed s, displayed delay)
        while (now := time.time() * 1000) - start < seconds * 1000:
            await asyncio.sleep(1.0)
            batch = await page.evaluate("() => window.__bench.splice(0)")
            shown_delay = await page.evaluate("() => window.liveStats.delayMs")
            t = time.time() * 1000
            for s in batch:
                arrival = arrivals.lookup(s["n"])
                s["delay"] = None if arrival is None else s["shown"] - arrival
            samples.extend(batch)
            recent = [s["delay"] for s in samples if s["delay"] is not None
                      and s["shown"] >= t - 1000]
            measured = statistics.median(recent) if recent else None
            if shown_delay is not None:
                displayed.append((t, shown_delay, measured))
                windows.append(((t - start) / 1000, shown_delay))
        sent = [a for a in arrivals.by_frame.values() if start <= a <= time.time() * 1000]
        waiting = await page.evaluate("() => window.__benchWaiting")
        page_stats = await page.evaluate("() => window.livePlayer.extraStats()")
    finally:
        await context.close()

    delays = [s["delay"] for s in samples if s["delay"] is not None]
    unmatched = sum(1 for s in samples if s["delay"] is None)
    freezes = sum(1 for a, b in zip(samples, samples[1:]) if b["shown"] - a["shown"] > 200)
    longest = max((b["shown"] - a["shown"] for a, b in zip(samples, samples[1:])), default=0)
    diffs = [d - m for _, d, m in displayed if m is not None]
    result = {
        "page": kind, "url": url, "secure_context": secure, "frames": len(samples),
        "unmatched": unmatched,
        "fps": len(samples) / seconds, "camera_fps": len(sent) / seconds,
        "p50": percentile(delays, 50) if delays else None,
        "p95": percentile(delays, 95) if delays else None,
        "max": max(delays) if delays else None,
        "waiting": waiting, "freezes": freezes, "longest_gap": longest,
        "displayed_minus_measured_mean": statistics.fmean(diffs) if diffs else None,
        "displayed_minus_measured_maxabs": max(map(abs, diffs)) if diffs else None,
        "errors": errors, "windows": windows, "page_stats": page_stats,
    }
    # Measured p50 / p95 of each minute (a long run: does the delay grow?).
    by_minute: dict[int, list[float]] = {}
    for sample in samples:
        if sample["delay"] is not None:
            by_minute.setdefault(int((sample["shown"] - start) // 60000) + 1, []).append(
                sample["delay"])
    result["minutes"] = [(m, percentile(v, 50), percentile(v, 95))
                         for m, v in sorted(by_minute.items())]
    at30 = [d for s, d in windows if 25 <= s <= 35]
    result["displayed_at_30s"] = statistics.median(at30) if at30 else None
    tail = [d for s, d in windows if s >= seconds - 10]
    result["displayed_at_end"] = statistics.median(tail) if tail else None
    # The machine may be shared: the 1-minute load average when this page's measurement ended.
    result["loadavg"] = os.getloadavg()[0]
    return result


def report(r: dict, seconds: float) -> None:
    name = NAMES[r["page"]]
    if r["p50"] is None:
        print(f"{name}: no frame measured ({r['frames']} samples, errors {r['errors']})")
        return
    print(f"{name}: {r['frames']} frames shown in {seconds:g} s ({r['fps']:.1f} fps), "
          f"{r['unmatched']} without an arrival time; the camera sent {r['camera_fps']:.1f} fps")
    print(f"  glass-to-glass delay (server arrival -> display): p50 {r['p50']:.1f} ms, "
          f"p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms (load average {r['loadavg']:.1f})")
    print(f"  stalls: {r['waiting']} waiting events, {r['freezes']} freezes > 200 ms "
          f"(longest gap between frames {r['longest_gap']:.0f} ms)")
    if r["displayed_minus_measured_mean"] is not None:
        print(f"  delay shown by the page - measured: mean {r['displayed_minus_measured_mean']:+.1f} "
              f"ms, max |diff| {r['displayed_minus_measured_maxabs']:.1f} ms")
    if seconds >= 60:
        print(f"  delay shown by the page after 30 s: {r['displayed_at_30s']:.1f} ms, "
              f"at {seconds:g} s: {r['displayed_at_end']:.1f} ms")
        per_minute: dict[int, list[float]] = {}
        for s, d in r["windows"]:
            per_minute.setdefault(int(s // 60), []).append(d)
        print("  per minute (median shown delay): " + ", ".join(
            f"{m + 1}: {statistics.median(v):.0f}" for m, v in sorted(per_minute.items())))
        if r.get("minutes"):
            print("  per minute (measured p50 / p95): " + ", ".join(
                f"{m}: {p50:.0f}/{p95:.0f}" for m, p50, p95 in r["minutes"]))
    print("  the page's own figures at the end: " + ", ".join(
        f"{k} {v}" for k, v in r["page_stats"].items()))
    if r["errors"]:
        print(f"  page errors: {r['errors']}")


def table(runs: list[list[dict]], kinds: list[str]) -> None:
    """Every run's p50 / p95 per page, then the range."""
    print("\nrun  " + "  ".join(f"{kind + ' p50/p95':>22}" for kind in kinds) + "  load avg")
    for n, results in enumerate(runs, 1):
        by_kind = {r["page"]: r for r in results}
        cells = []
        for kind in kinds:
            r = by_kind.get(kind)
            cells.append(f"{r['p50']:9.1f} / {r['p95']:6.1f} ms" if r and r["p50"] is not None
                         else f"{'-':>22}")
        loads = "/".join(f"{r['loadavg']:.1f}" for r in results if "loadavg" in r)
        print(f"{n:3d}  " + "  ".join(f"{c:>22}" for c in cells) + f"  {loads}")
    for kind in kinds:
        done = [r for results in runs for r in results if r["page"] == kind and r["p50"]]
        if done:
            print(f"{kind}: p50 {min(r['p50'] for r in done):.1f}-{max(r['p50'] for r in done):.1f}"
                  f" ms, p95 {min(r['p95'] for r in done):.1f}-{max(r['p95'] for r in done):.1f}"
                  f" ms over {len(done)} runs; frames shown per run "
                  f"{min(r['frames'] for r in done)}-{max(r['frames'] for r in done)}; "
                  f"waiting events {sum(r['waiting'] for r in done)}, freezes "
                  f"{sum(r['freezes'] for r in done)}")


async def one_run(pw, args, kinds: list[str], tls_files) -> list[dict]:
    procs = Processes(args.fps, args.width, args.height, args.jitter, args.https, tls_files)
    results = []
    try:
        scheme = "wss" if args.https == "server" else "ws"
        arrivals = Arrivals(f"{scheme}://127.0.0.1:{procs.view}/{CAMERA}?format=mjpeg")
        arrival_task = asyncio.create_task(arrivals.run())
        deadline = time.monotonic() + 30
        while not arrivals.by_frame and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if not arrivals.by_frame:
            raise SystemExit("no frame from the mock camera")
        # (The server's own TLS leaves no plain http port to compare with; --https front does.)
        if args.https == "front":
            print("  over plain http at the same name: "
                  + await check_plain_http_has_no_webcodecs(pw.chromium, procs), flush=True)
        for kind in kinds:
            result = await measure_page(pw.chromium, procs, arrivals, kind, args.seconds,
                                        args.warmup, args.query, args.ws_port)
            results.append(result)
            print(f"  {result['url']} (secure context: {result['secure_context']})")
            report(result, args.seconds)
            sys.stdout.flush()
        arrival_task.cancel()
    finally:
        procs.stop()
    return results


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=1, help="fresh server and camera each run")
    p.add_argument("--seconds", type=float, default=30.0, help="measured seconds per page")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    p.add_argument("--pages", default="webcodecs,mse,mjpeg",
                   help="comma-separated: webcodecs, mse (h264 is the same), mjpeg")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--jitter", type=float, default=0, metavar="MS",
                   help="the camera's frames leave late by a random delay (mean MS), like "
                        "one on busy Wi-Fi (mock_camera.py --jitter)")
    p.add_argument("--query", default="", help="appended to the pages' URL, e.g. "
                   "'&margin_ms=20' (MSE tuning: margin_ms, adapt=0)")
    p.add_argument("--ws-port", action="store_true",
                   help="pages use the separate viewer port (&ws_port=) instead of /ws/")
    p.add_argument("--https", nargs="?", const="front", choices=("front", "server"),
                   help="serve the pages over TLS at https://camserver.test (see above)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    # `timeout`, Ctrl-C: stop the server and camera on the way out.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.async_api import async_playwright

    kinds = ["mse" if k.strip() == "h264" else k.strip() for k in args.pages.split(",")]
    for kind in kinds:
        if kind not in PAGES:
            p.error(f"unknown page {kind!r} (webcodecs, mse, mjpeg)")
    tls_files = make_certificate(tempfile.mkdtemp(prefix="g2g-tls-")) if args.https else None
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True,
                             text=True).stdout.strip()
    jitter = f" with jitter (mean {args.jitter:g} ms)" if args.jitter else ""
    over = f"https ({args.https})" if args.https else "http on 127.0.0.1"
    print(f"{version}; camera {args.width}x{args.height} at {args.fps:g} fps{jitter}; "
          f"pages over {over}; warm-up {args.warmup:g} s, then {args.seconds:g} s per page; "
          f"{args.runs} run(s); load average {os.getloadavg()[0]:.1f}", flush=True)
    runs = []
    async with async_playwright() as pw:
        for n in range(1, args.runs + 1):
            print(f"run {n} (load average {os.getloadavg()[0]:.1f})", flush=True)
            runs.append(await one_run(pw, args, kinds, tls_files))
    if args.runs > 1:
        table(runs, kinds)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the server and camera were stopped
        sys.exit(130)
