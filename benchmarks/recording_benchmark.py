#!/usr/bin/env python3
"""Recording benchmark: what recording every camera costs the server, before/after in one run.

For each phase a fresh server gets N cameras (pre-rendered 640x480 JPEGs at 30 fps, sent by
this process) and one TS viewer per camera; after a warm-up, it prints:
- CPU of the server process (all its threads, the recorder's writer and motion threads
  included; FFmpeg children excluded), per camera, 100% = one core; and of the recording
  threads alone (the writer per camera, motion detection), which the OS sees by name;
- the server-added delay (JPEG received -> first TS byte to a viewer) p50/p99 as /status
  reports it (last 300 frames per camera), median over the cameras, and the two parts of its
  p50: FFmpeg's (JPEG written to FFmpeg -> H.264 read back, /status `encoder_delay_ms_p50`)
  and the server's own (the rest);
- camera send -> viewer receive p50/p99 (all frames, all viewers);
- what the recorder wrote (MB/s) and its frames dropped.

Phases run in turns (off, continuous, off, continuous, ...; --motion adds motion mode, whose
moving test scene is detected all the time) so that a busy shared machine shifts both alike.
At the end, each mode is compared with "off" round by round: the mean difference and its 95%
interval (Student's t over the rounds). Each phase is a new server with new FFmpeg processes,
and FFmpeg's time per frame differs from one process to the next by more than a tenth of a
millisecond, so the total delay needs several rounds to resolve; --control adds a second "off"
phase per round, whose difference to the first shows what that noise alone gives.

Usage: python benchmarks/recording_benchmark.py [--cameras 2] [--seconds 20] [--rounds 8]
       [--motion] [--control]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from mock_camera import FrameRenderer  # noqa: E402
from server_benchmark import Server, children, cpu_seconds, pct  # noqa: E402
from wsclient import open_viewer  # noqa: E402


async def camera(port: int, camera_id: str, frames: list[bytes], seconds: float,
                 sent: list[float]) -> None:
    from websockets.asyncio.client import connect
    async with connect(f"ws://127.0.0.1:{port}/{camera_id}", compression=None) as ws:
        # As the firmware does: with its rate announced the encoder starts at 30 fps; without,
        # it is restarted at the measured rate after 10 s, in the middle of a phase.
        await ws.send(json.dumps({"type": "hello", "board": "benchmark", "width": 640,
                                  "height": 480, "fps": 30}))
        start, n = time.monotonic(), 0
        while (now := time.monotonic()) - start < seconds:
            due = start + n / 30
            if due > now:
                await asyncio.sleep(due - now)
            await ws.send(frames[n % len(frames)])
            sent.append(time.monotonic())
            n += 1
        await asyncio.sleep(1.0)


def thread_cpu(pid: int, prefixes=("rec:", "motion")) -> float:
    """CPU seconds of the server's recording threads (named by camserver/recording/writer.py)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip().startswith(prefixes):
                total += cpu_seconds_of(task / "stat")
        except OSError:
            continue
    return total


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(mode: str, cameras: int, seconds: float, warmup: float,
              frames: list[bytes]) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="recbench-"))
    args: list[str] = []
    if mode != "off":
        config = tmp / "rec.toml"
        # A config file with no [anonymous] table would leave the benchmark's own clients
        # (viewers, /status) nothing: open as without one.
        config.write_text(f'[anonymous]\nallow = ["publish:*", "read:*", "status"]\n[recording]\n'
                          f'min_free_bytes = "100M"\n[camera."*"]\nrecord = '
                          f'"{mode}"\nsegment_seconds = 60\nmotion_sensitivity = 0.5\n')
        args = ["--record-dir", str(tmp / "rec"), "--config", str(config)]
    server = Server(extra_args=args)
    try:
        async def measure():
            ids = [f"cam{i}" for i in range(cameras)]
            viewers = [await open_viewer("127.0.0.1", server.ports["viewer"],
                                         f"/{cid}?format=ts") for cid in ids]
            sent = {cid: [] for cid in ids}
            tasks = [asyncio.create_task(camera(server.ports["camera"], cid, frames,
                                                warmup + seconds, sent[cid])) for cid in ids]
            await asyncio.sleep(warmup)
            ffmpegs = children(server.proc.pid)
            t0 = time.monotonic()
            cpu0 = (cpu_seconds(server.proc.pid), sum(cpu_seconds(p) for p in ffmpegs),
                    thread_cpu(server.proc.pid))
            await asyncio.sleep(seconds - 1.5)
            t1 = time.monotonic()
            cpu1 = (cpu_seconds(server.proc.pid), sum(cpu_seconds(p) for p in ffmpegs),
                    thread_cpu(server.proc.pid))
            status = server.status()
            await asyncio.gather(*tasks)
            return ids, viewers, sent, [(b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1)], status

        ids, viewers, sent, (server_cpu, ffmpeg_cpu, thread_cpu_), status = \
            asyncio.run(measure())
    finally:
        log = server.stop()
    delays = []
    for cid, viewer in zip(ids, viewers):
        got = viewer.arrivals
        delays += [(g - s) * 1000 for s, g in zip(sent[cid][60:], got[60:])]
    cams = status["cameras"]
    written = sum(f.stat().st_size for f in (tmp / "rec").rglob("*.mp4")) \
        if (tmp / "rec").exists() else 0
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "mode": mode,
        "server_cpu": server_cpu * 100 / cameras,
        "ffmpeg_cpu": ffmpeg_cpu * 100 / cameras,
        "threads_cpu": thread_cpu_ * 100 / cameras,
        "delay_p50": statistics.median(c["server_delay_ms_p50"] for c in cams),
        "delay_p99": statistics.median(c["server_delay_ms_p99"] for c in cams),
        "encoder_p50": statistics.median(c["encoder_delay_ms_p50"] for c in cams),
        "delivery_p50": statistics.median(delays), "delivery_p99": pct(delays, 0.99),
        "written_mb_s": written / 1e6 / (warmup + seconds),
        "dropped": sum((c.get("recording") or {}).get("frames_dropped", 0) for c in cams),
        "errors": [line for line in log.splitlines() if "ERROR" in line][:3],
    }


def micro(count: int = 9000) -> None:
    """The recorder's own cost, in this process, with the thread's CPU clock (which a busy
    machine does not blur): loop-side CPU per frame and per JPEG, writer-thread CPU per frame."""
    sys.path.insert(0, str(ROOT / "tests"))
    from camserver.ingest.packager import Packager
    from camserver.recording.manager import RecordingManager
    from camserver.recording.settings import parse_config
    from media_fixtures import LIVE_ENCODER_ARGS, encode_flv, video_tags

    config, tags = video_tags(encode_flv("640x480", 300, LIVE_ENCODER_ARGS))
    packager = Packager()
    init = packager.set_config(config)
    video = [packager.package(t.data, t.keyframe, 0) for t in tags]
    jpeg = FrameRenderer(640, 480).render(0, 0, 30)

    class Stream:
        id = "micro"
        epoch_monotonic = time.monotonic()
        epoch_ms = time.time() * 1000

        def add_consumer(self, consumer):
            self.consumer = consumer

        def remove_consumer(self, consumer):
            pass

    import dataclasses
    results = {}
    for mode in ("continuous", "motion"):
        tmp = Path(tempfile.mkdtemp(prefix="recmicro-"))

        async def run():
            manager = RecordingManager(parse_config({
                "recording": {"record_dir": str(tmp), "min_free_bytes": 0},
                "camera": {"*": {"record": mode, "segment_seconds": 60}}}))
            await manager.start()
            stream = Stream()
            manager.attach(stream)
            recorder = stream.consumer
            recorder.on_init(init)
            if mode == "motion":  # keep it recording: motion "seen" now and then
                recorder._motion(0, 1.0)
            spent = 0.0
            threads0 = thread_cpu(os.getpid(), ("rec:",))
            start = time.monotonic()
            for n in range(count):
                frame = dataclasses.replace(video[n % len(video)], pts=n * 3000)
                due = start + n / 30 / 20  # 20x real time: the writer keeps up, timers run
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
                t = time.thread_time()
                recorder.on_jpeg(jpeg, None, stream.epoch_ms + n / 30 * 1000)
                recorder.on_frame(frame)
                spent += time.thread_time() - t
                if mode == "motion" and n % 30 == 0:
                    recorder._motion(n * 3000, 1.0)
            while any(w.queued_bytes for w in [recorder._writer] if w):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            threads = thread_cpu(os.getpid(), ("rec:",)) - threads0  # before the threads end
            await manager.close()
            return spent, threads, recorder.frames_recorded

        spent, threads, recorded = asyncio.run(run())
        written = sum(f.stat().st_size for f in tmp.rglob("*.mp4"))
        shutil.rmtree(tmp, ignore_errors=True)
        results[mode] = spent / count * 1e6, threads / count * 1e6
        print(f"  in process, {mode}: event loop {spent / count * 1e6:.1f} us per frame, "
              f"writer thread {threads / count * 1e6:.1f} us per frame "
              f"({recorded} of {count} frames recorded, {written / 1e6:.1f} MB); at 30 fps "
              f"that is {(spent + threads) / count * 30 * 100:.3f}% of a core per camera")
    from camserver.recording.motion import MotionDetector
    from camserver.recording.recorder import DETECT_PER_SECOND
    renderer = FrameRenderer(640, 480)
    jpegs = [renderer.render(n, n / 30, 30) for n in range(20)]
    detector = MotionDetector()
    t = time.thread_time()
    for n in range(400):
        detector.score(jpegs[n % len(jpegs)])
    each = (time.thread_time() - t) / 400
    print(f"  motion detection: {each * 1000:.2f} ms of CPU per 640x480 JPEG, "
          f"{DETECT_PER_SECOND} a second = {each * DETECT_PER_SECOND * 100:.2f}% of a core "
          f"per camera")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=4)
    p.add_argument("--rounds", type=int, default=8,
                   help="rounds of all phases; fewer cannot tell an effect on the delay "
                   "from FFmpeg's own variation")
    p.add_argument("--motion", action="store_true", help="also measure motion mode")
    p.add_argument("--control", action="store_true",
                   help='also run a second "off" phase per round: the noise floor')
    p.add_argument("--micro-only", action="store_true",
                   help="only the in-process measurement of the recorder itself")
    args = p.parse_args()
    print("The recorder itself (thread CPU clocks):")
    micro()
    if args.micro_only:
        return
    renderer = FrameRenderer(640, 480)
    frames = [renderer.render(n, n / 30, 30) for n in range(90)]
    print(f"Machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, Python "
          f"{sys.version.split()[0]}; {args.cameras} cameras at 30 fps, "
          f"{args.seconds:g} s per phase")
    modes = ["off", "continuous"] + (["motion"] if args.motion else []) \
        + (["off again"] if args.control else [])
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for round_ in range(args.rounds):
        for mode in modes:
            r = run_phase(mode.split()[0], args.cameras, args.seconds, args.warmup, frames)
            results[mode].append(r)
            print(f"  round {round_ + 1} {mode:10s}: server CPU {r['server_cpu']:5.2f}% of a "
                  f"core per camera (recording threads {r['threads_cpu']:.2f}%, FFmpeg "
                  f"{r['ffmpeg_cpu']:.1f}%), server delay p50 {r['delay_p50']:.2f} "
                  f"(FFmpeg {r['encoder_p50']:.2f}, own {own(r):.2f}) / p99 "
                  f"{r['delay_p99']:.2f} ms, send->viewer p50 {r['delivery_p50']:.2f} / p99 "
                  f"{r['delivery_p99']:.2f} ms, written {r['written_mb_s']:.2f} MB/s, dropped "
                  f"{r['dropped']}, load {os.getloadavg()[0]:.2f}"
                  + (f", errors {r['errors']}" if r["errors"] else ""), flush=True)
    print(f"Each mode minus off, round by round: mean [95% interval] over {args.rounds} rounds")
    for mode in modes[1:]:
        base, other = results["off"], results[mode]
        parts = []
        for label, value, unit in (
                ("server CPU", lambda r: r["server_cpu"], "% of a core per camera"),
                ("server delay p50", lambda r: r["delay_p50"], " ms"),
                ("FFmpeg's part", lambda r: r["encoder_p50"], " ms"),
                ("the server's own", own, " ms"),
                ("p99", lambda r: r["delay_p99"], " ms")):
            mean, low, high = paired_difference([value(r) for r in other],
                                                [value(r) for r in base])
            parts.append(f"{label} {mean:+.3f} [{low:+.3f}, {high:+.3f}]{unit}")
        print(f"  {mode}: " + "; ".join(parts))


def own(phase: dict) -> float:
    """The server's own part of the median server-added delay: what FFmpeg does not take."""
    return phase["delay_p50"] - phase["encoder_p50"]


#: Student's t, two-sided 95%, by degrees of freedom (1.96 beyond the table).
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
        10: 2.23, 11: 2.20, 12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13, 16: 2.12, 17: 2.11,
        18: 2.10, 19: 2.09, 20: 2.09, 25: 2.06, 30: 2.04}


def paired_difference(values: list[float], baseline: list[float]) -> tuple[float, float, float]:
    """Mean of ``values[i] - baseline[i]`` and its 95% interval (Student's t)."""
    differences = [v - b for v, b in zip(values, baseline)]
    mean = statistics.mean(differences)
    if len(differences) < 2:
        return mean, float("nan"), float("nan")
    df = len(differences) - 1
    t = _T95[max(k for k in _T95 if k <= df)] if df <= 30 else 1.96
    half = t * statistics.stdev(differences) / len(differences) ** 0.5
    return mean, mean - half, mean + half


if __name__ == "__main__":
    main()
