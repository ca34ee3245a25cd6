#!/usr/bin/env python3
"""When Chrome presents the MJPEG page's canvas, from Chrome's own trace (not a test).

A page cannot see when the compositor puts its canvas on screen, so ``glass_to_glass.py`` (and
the page's own statistics) time an MJPEG frame at the first animation frame after the page draws
it. This checks that stand-in against Chrome: it opens the MJPEG page in headless Chromium with
the glass-to-glass probe, records a trace, and prints, per drawn frame:

- draw -> presented: from ``drawImage`` to the end of the first ``Display::DrawAndSwap`` that
  starts after the canvas's next ``Surface::CommitFrame`` (the page's canvas is
  ``desynchronized``, so it commits to the compositor by itself, not with the page's next
  main frame);
- probe - presented: the probe's animation frame minus that presentation (negative: the probe
  timed the frame before Chrome had drawn it).

Headless Chromium has no display to wait for, so it presents as soon as the canvas commits; a
60 Hz screen would add up to one refresh (16.7 ms) to both.

Usage: ``python benchmarks/canvas_presentation.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from glass_to_glass import (CAMERA, CHROMIUM, CHROMIUM_ARGS, PROBE_JS,  # noqa: E402
                            Processes, percentile)

# Trace marks (category blink.user_timing) for each draw and each animation frame callback.
MARKS_JS = """() => {
  const ctx = document.querySelector("canvas").getContext("2d");
  const draw = ctx.drawImage;
  ctx.drawImage = function (...args) { draw.apply(this, args); performance.mark("draw"); };
  const raf = window.requestAnimationFrame;
  window.requestAnimationFrame = (f) => raf((t) => { performance.mark("raf"); f(t); });
}"""


def first_after(sorted_times: list[float], t: float) -> float | None:
    i = bisect.bisect_left(sorted_times, t)
    return sorted_times[i] if i < len(sorted_times) else None


def analyse(events: list[dict]) -> dict[str, list[float]]:
    """Per draw: draw -> presented and probe - presented, in ms (trace times are in µs)."""
    def times(name: str, cat: str | None = None) -> list[float]:
        return sorted(e["ts"] for e in events
                      if e.get("name") == name and (cat is None or e.get("cat") == cat))
    draws, rafs = times("draw", "blink.user_timing"), times("raf", "blink.user_timing")
    commits = times("Surface::CommitFrame")
    swaps = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                   if e.get("name") == "Display::DrawAndSwap" and e.get("ph") == "X")
    swap_starts = [s for s, _ in swaps]
    out: dict[str, list[float]] = {"draw -> presented": [], "probe - presented": []}
    for drawn in draws:
        commit, probe = first_after(commits, drawn), first_after(rafs, drawn)
        i = bisect.bisect_left(swap_starts, commit) if commit is not None else len(swaps)
        if probe is None or i >= len(swaps):
            continue
        presented = swaps[i][1]
        out["draw -> presented"].append((presented - drawn) / 1000)
        out["probe - presented"].append((probe - presented) / 1000)
    return out


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="length of the trace")
    args = p.parse_args()
    from playwright.async_api import async_playwright

    procs = Processes(30, 640, 480)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 800})
            await page.goto(f"http://127.0.0.1:{procs.http}/mjpeg?camera={CAMERA}"
                            f"&ws_port={procs.view}")
            await page.wait_for_function("window.liveStats && window.liveStats.frames > 10")
            await page.evaluate(MARKS_JS)
            await page.evaluate(PROBE_JS, "mjpeg")
            await asyncio.sleep(1)
            await browser.start_tracing(page=page, categories=["viz", "blink.user_timing"])
            await asyncio.sleep(args.seconds)
            trace = json.loads(await browser.stop_tracing())
            await browser.close()
    finally:
        procs.stop()
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    for name, values in analyse(events).items():
        if not values:
            print(f"{name}: no frame matched in the trace")
            return 1
        print(f"{name}: p10 {percentile(values, 10):.2f} ms, p50 {percentile(values, 50):.2f} "
              f"ms, p90 {percentile(values, 90):.2f} ms, max {max(values):.2f} ms "
              f"({len(values)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
