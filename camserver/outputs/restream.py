"""Restream: push each camera's H.264, as it is, to RTMP/SRT/RTSP servers (MediaMTX, YouTube Live,
nginx-rtmp...), one FFmpeg child per target.

Contract:

- Every target is a :class:`Target` with its own FFmpeg (:func:`targets.push_command`): MPEG-TS
  in on stdin, copied out, never re-encoded. The bytes written are the TS chunks the server
  already built for TS viewers (:attr:`VideoFrame.ts`), so a target costs one pipe write per
  frame on the event loop, nothing else.
- Nothing on the per-frame path waits for a target. A target's queue is its pipe's unsent bytes:
  past :data:`MAX_BACKLOG` it skips to the next keyframe, and resumes there once it has drained
  below a quarter, as a slow viewer does. A target that takes nothing for :data:`STALL_SECONDS`
  (or has not accepted the stream :data:`CONNECT_SECONDS` after FFmpeg started) has its FFmpeg
  killed. Live viewers never notice any of it.
- When a target goes away (FFmpeg exits by itself), it is tried again at the next keyframe after
  a backoff of 1 s, doubling to :data:`MAX_BACKOFF`; the backoff starts over once a connection has
  held for :data:`STEADY_SECONDS`. A new encoder configuration (size, level) ends the push and
  starts a new one, since RTMP carries the stream's parameters once, at its start. So does video
  that stops for :data:`IDLE_SECONDS` (camera gone): the push ends cleanly, and starts again with
  the video.
- URLs are shown masked (:func:`targets.mask`) everywhere: ``/status``, ``/metrics``, logs, and
  FFmpeg's own error lines. Log lines about a target are rate-limited (one per kind a minute).
- Every child is reaped; it dies with the server (PR_SET_PDEATHSIG) and runs in its own session.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import subprocess
import time
from typing import TYPE_CHECKING, Mapping, Sequence

from ..ingest.stream import StreamConsumer
from ..ingest.transcoder import _die_with_parent
from ..ratelimit import RateLimitedLog, clip
from . import targets

if TYPE_CHECKING:
    from ..ingest.packager import InitSegment, VideoFrame
    from ..ingest.stream import CameraStream

log = logging.getLogger(__name__)

#: Unsent bytes after which a target skips to the next keyframe (~10 s at 1.5 Mbit/s: an upload
#: link may stall a few seconds without losing video).
MAX_BACKLOG = 2 * 1024 * 1024
#: FFmpeg started but the target has not taken the stream after this long: killed, tried again.
CONNECT_SECONDS = 20.0
#: Connected, video going in, but nothing written to the target for this long: killed.
STALL_SECONDS = 15.0
#: No video for this long (camera gone, encoder stopped): the push is ended cleanly.
IDLE_SECONDS = 5.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
#: A connection that held this long resets the backoff.
STEADY_SECONDS = 30.0
#: Time a child gets to finish after its input ended, before SIGKILL.
STOP_SECONDS = 3.0
#: The last error's text in /metrics is cut to this many characters (a label, not a log).
MAX_ERROR_LABEL = 200
TICK_SECONDS = 1.0
#: FFmpeg's closing lines, which say less about why than the first error of a run does.
_GENERIC = re.compile(r"^(Conversion failed!?|Exiting normally.*|Error closing file.*|"
                      r"Error writing trailer.*)$")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
#: "[out#0/mpegts @ 0x55c4e007bec0] " before FFmpeg 9's messages.
_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\] ")


class _Child:
    """One FFmpeg run for one target."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.started = time.monotonic()
        #: What FFmpeg reports (-progress): frames written to the target, and bytes where the
        #: output has a byte count (RTMP, SRT; RTSP has none: N/A).
        self.frames_out = 0
        self.total_size: int | None = None
        #: Frames and bytes handed to FFmpeg, and (frames, bytes) marks not yet confirmed out,
        #: so that a target without a byte count still shows the bytes it took.
        self.frames_in = 0
        self.bytes_in = 0
        self._marks: collections.deque[tuple[int, int]] = collections.deque()
        self._bytes_out_of_marks = 0
        self.connected_at: float | None = None
        self.last_progress = self.started
        self.stop_requested = False
        self.stop_requested_at = 0.0
        #: Why this run failed: the first telling error line (or our own reason for killing it).
        self.error: str | None = None
        self.last_line: str | None = None

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.proc.stdin.is_closing()

    def backlog(self) -> int:
        transport = self.proc.stdin.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.frames_in += 1
        self.bytes_in += len(data)
        self._marks.append((self.frames_in, self.bytes_in))

    def progress(self, frames: int, total_size: int | None) -> bool:
        """FFmpeg's figures; whether it moved on."""
        moved = frames != self.frames_out or total_size != self.total_size
        self.frames_out, self.total_size = frames, total_size
        while self._marks and self._marks[0][0] <= frames:
            self._bytes_out_of_marks = self._marks.popleft()[1]
        return moved

    @property
    def bytes(self) -> int:
        """Bytes written to the target (RTSP: the TS bytes of the frames it took)."""
        return self.total_size if self.total_size is not None else self._bytes_out_of_marks

    def end_input(self) -> None:
        if not self.stop_requested:
            self.stop_requested = True
            self.stop_requested_at = time.monotonic()
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


class Target:
    """One URL one camera is pushed to: its FFmpeg runs, reconnections and figures."""

    def __init__(self, camera_id: str, url: str, ffmpeg: str, *,
                 log_interval: float = 60.0):
        self.camera_id = camera_id
        self.url = url
        self._masker = targets.Masker(url)
        #: The URL as anyone may see it.
        self.shown = self._masker.masked
        self.name = f"camera {camera_id}: restream to {self.shown}"
        self._ffmpeg = ffmpeg
        self._log = RateLimitedLog(log, interval=log_interval)
        self._child: _Child | None = None
        self._task: asyncio.Task | None = None
        self._starting = False
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._skipping = True  # until a keyframe: a receiver can start nowhere else
        self._closed = False
        self._retry_at = 0.0
        self._backoff = FIRST_BACKOFF
        self._last_frame = 0.0
        #: Figures for /status and /metrics.
        self.bytes_done = 0  # bytes written by FFmpeg runs that have ended
        self.frames_done = 0
        self.frames_sent = 0
        self.frames_skipped = 0
        self.starts = 0
        self.connects = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    # -- per frame (on the event loop: never waits) ----------------------------------------------

    def feed(self, frame: "VideoFrame", gop: Sequence["VideoFrame"] = ()) -> None:
        """A new camera frame; ``gop`` is the stream's frames since its last keyframe (this one
        included), so a push can start at once instead of at the next keyframe."""
        if self._closed or not frame.ts:
            return
        now = time.monotonic()
        self._last_frame = now
        child = self._child
        if child is not None:
            if child.alive and not child.stop_requested:
                self._send(child, frame)
            return  # ending: the next push starts once it has
        if self._starting:
            self._hold(frame)
            return
        if now < self._retry_at:
            return
        if gop and gop[0].keyframe and gop[-1] is frame:
            start = list(gop)
        elif frame.keyframe:
            start = [frame]
        else:
            return
        self._start(start)

    def _send(self, child: _Child, frame: "VideoFrame") -> None:
        backlog = child.backlog()
        if self._skipping:
            if not frame.keyframe or backlog > MAX_BACKLOG // 4:
                self.frames_skipped += 1
                return
            self._skipping = False
        elif backlog > MAX_BACKLOG:
            self._skipping = True
            self.frames_skipped += 1
            self._log.log(logging.WARNING, "behind", "%s: %d bytes not taken yet; skipping to "
                          "the next keyframe", self.name, backlog)
            return
        child.write(frame.ts)
        self.frames_sent += 1

    def _hold(self, frame: "VideoFrame") -> None:
        """Frames that come while FFmpeg starts (a few ms), bounded like the pipe."""
        if self._skipping and not frame.keyframe:
            self.frames_skipped += 1
            return
        if self._held_bytes + len(frame.ts) > MAX_BACKLOG:
            self.frames_skipped += len(self._held) + 1
            self._held.clear()
            self._held_bytes = 0
            self._skipping = True
            return
        self._skipping = False
        self._held.append(frame.ts)
        self._held_bytes += len(frame.ts)

    # -- FFmpeg runs -----------------------------------------------------------------------------

    def _start(self, frames: list["VideoFrame"]) -> None:
        self._starting = True
        self._skipping = False
        self._held = [frame.ts for frame in frames]
        self._held_bytes = sum(len(data) for data in self._held)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *targets.push_command(self._ffmpeg, self.url), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                preexec_fn=_die_with_parent)
        except (OSError, ValueError) as exc:
            self._starting = False
            self._held.clear()
            self._failed(None, f"could not start FFmpeg: {exc}")
            return
        child = self._child = _Child(proc)
        self._starting = False
        self.starts += 1
        held, self._held, self._held_bytes = self._held, [], 0
        for data in held:
            child.write(data)
            self.frames_sent += 1
        if self._closed:
            child.end_input()
        readers = [asyncio.ensure_future(self._read_progress(child)),
                   asyncio.ensure_future(self._read_errors(child))]
        try:
            code = await proc.wait()
            await asyncio.gather(*readers, return_exceptions=True)
        except asyncio.CancelledError:
            child.kill()
            for reader in readers:
                reader.cancel()
            raise
        finally:
            self.bytes_done += child.bytes
            self.frames_done += child.frames_out
            self._child = None
        now = time.monotonic()
        if child.connected_at is not None and now - child.connected_at >= STEADY_SECONDS:
            self._backoff = FIRST_BACKOFF
        if child.stop_requested and child.error is None:
            self._skipping = True
            return  # ended on purpose: the next keyframe starts the next push
        self._failed(child, child.error or child.last_line or f"FFmpeg exited with code {code}")

    def _failed(self, child: _Child | None, error: str) -> None:
        self.failures += 1
        self.last_error = self._masker(error)
        self.last_error_at = time.time()
        delay = self._backoff
        self._backoff = min(MAX_BACKOFF, self._backoff * 2)
        self._retry_at = time.monotonic() + delay
        self._skipping = True
        was = "lost" if child is not None and child.connected_at is not None else "failed"
        self._log.log(logging.WARNING, "failed", "%s: %s (%s); trying again in %g s",
                      self.name, was, clip(self.last_error), delay)

    async def _read_progress(self, child: _Child) -> None:
        """FFmpeg's -progress blocks (``frame=``, ``total_size=``, ..., ``progress=``), every
        0.5 s once the output is open, i.e. once the target took the stream."""
        frames, size = 0, None
        while line := await child.proc.stdout.readline():
            key, _, value = line.decode("ascii", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                frames = int(value)
            elif key == "total_size":
                size = int(value) if value.isdigit() else None
            elif key == "progress":
                now = time.monotonic()
                if child.progress(frames, size):
                    child.last_progress = now
                if (frames or size) and child.connected_at is None:
                    child.connected_at = now
                    self.connects += 1
                    self._log.log(logging.INFO, "connected", "%s: connected", self.name)

    async def _read_errors(self, child: _Child) -> None:
        while line := await child.proc.stderr.readline():
            text = self._masker(line.decode(errors="replace").strip())
            if not text:
                continue
            # The first error of a run is the cause; the rest follow from it.
            bare = child.last_line = _CONTEXT.sub("", text)
            if child.error is None and not _GENERIC.match(bare):
                child.error = bare
            key = "ffmpeg:" + re.sub(r"\d+", "#", _ADDRESS.sub("", text))[:60]
            self._log.log(logging.WARNING, key, "%s: ffmpeg: %s", self.name, clip(text))

    # -- housekeeping ----------------------------------------------------------------------------

    def restart(self) -> None:
        """End the running push (a new encoder configuration); the next keyframe starts one."""
        if self._child is not None:
            self._child.end_input()
        self._held.clear()
        self._held_bytes = 0
        self._skipping = True

    def tick(self, now: float) -> None:
        """Called every second: end idle pushes, kill stalled or never-connected ones, and
        those that do not finish after their input ended (a target that takes nothing)."""
        child = self._child
        if child is None or child.proc.returncode is not None:
            return
        if child.stop_requested:
            if now - child.stop_requested_at > STOP_SECONDS:
                child.kill()
            return
        if now - self._last_frame > IDLE_SECONDS:
            self._log.log(logging.INFO, "idle", "%s: no video for %g s; ending the push",
                          self.name, IDLE_SECONDS)
            child.end_input()
        elif child.connected_at is None and now - child.started > CONNECT_SECONDS:
            child.error = f"the target did not take the stream within {CONNECT_SECONDS:g} s"
            child.kill()
        elif child.connected_at is not None and now - child.last_progress > STALL_SECONDS:
            child.error = f"the target took no data for {STALL_SECONDS:g} s"
            child.kill()

    async def close(self, timeout: float = STOP_SECONDS) -> None:
        """Stop for good: end the input, give FFmpeg ``timeout`` s to finish, then kill it."""
        self._closed = True
        task, child = self._task, self._child
        if child is not None:
            child.end_input()
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except (asyncio.TimeoutError, Exception):
            pass
        if self._child is not None:
            self._child.kill()
        if not task.done():
            try:
                await asyncio.wait_for(task, 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                task.cancel()

    @property
    def state(self) -> str:
        child = self._child
        if self._closed:
            return "stopped"
        if child is not None:
            if child.stop_requested:
                return "ending"
            return "connected" if child.connected_at is not None else "connecting"
        if self._starting:
            return "connecting"
        if time.monotonic() < self._retry_at:
            return "waiting"  # the backoff before the next attempt
        return "idle"

    def status(self) -> dict:
        child = self._child
        now = time.monotonic()
        return {
            "url": self.shown,
            "state": self.state,
            "connected": child is not None and child.connected_at is not None
            and not child.stop_requested,
            "bytes": self.bytes_done + (child.bytes if child is not None else 0),
            "frames_sent": self.frames_sent,
            "frames_delivered": self.frames_done + (child.frames_out if child is not None else 0),
            "frames_skipped": self.frames_skipped,
            "backlog_bytes": child.backlog() if child is not None else 0,
            "starts": self.starts,
            "connects": self.connects,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_error_age_s": round(time.time() - self.last_error_at, 1)
            if self.last_error_at is not None else None,
            "last_error_at": round(self.last_error_at, 3)
            if self.last_error_at is not None else None,
            "retry_in_s": round(self._retry_at - now, 1) if self._retry_at > now else None,
        }


class RestreamOutput(StreamConsumer):
    """One camera's targets, fed by its stream (a consumer, attached like the recorder)."""

    def __init__(self, camera_id: str, urls: Sequence[str], ffmpeg: str):
        self.camera_id = camera_id
        self.targets = [Target(camera_id, url, ffmpeg) for url in urls]
        self.stream: "CameraStream | None" = None
        self._config: bytes | None = None

    def bind(self, stream: "CameraStream") -> None:
        self.stream = stream
        stream.add_consumer(self)

    def on_init(self, init: "InitSegment") -> None:
        record = init.config.record if init.config is not None else init.data
        if self._config is not None and record != self._config:
            for target in self.targets:
                target.restart()
        self._config = record

    def on_frame(self, frame: "VideoFrame") -> None:
        gop = self.stream.fanout.gop if self.stream is not None else ()
        for target in self.targets:
            target.feed(frame, gop)


class RestreamManager:
    """All cameras' targets: attach to new streams, tick, ``/status`` and ``/metrics``, stop."""

    def __init__(self, plan: Mapping[str, Sequence[str]], ffmpeg: str):
        #: camera id (or "*", URLs with {camera}) -> target URLs.
        self.plan = plan
        self.ffmpeg = ffmpeg
        self.outputs: dict[str, RestreamOutput] = {}
        self._task: asyncio.Task | None = None

    def urls_for(self, camera_id: str) -> tuple[str, ...]:
        urls = self.plan.get(camera_id)
        if urls is None:
            urls = [targets.for_camera(url, camera_id) for url in self.plan.get("*", ())]
        return tuple(urls)

    def attach(self, stream: "CameraStream") -> None:
        """Push ``stream`` to its camera's targets, if it has any (called for each new stream)."""
        output = self.outputs.get(stream.id)
        if output is None:
            urls = self.urls_for(stream.id)
            if not urls:
                return
            output = self.outputs[stream.id] = RestreamOutput(stream.id, urls, self.ffmpeg)
            for target in output.targets:
                log.info("%s", target.name)
        output.bind(stream)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for output in list(self.outputs.values()):
                for target in output.targets:
                    target.tick(now)

    async def close(self, timeout: float = STOP_SECONDS) -> None:
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(*(target.close(timeout) for output in self.outputs.values()
                               for target in output.targets), return_exceptions=True)

    def camera_status(self, camera_id: str) -> list[dict] | None:
        output = self.outputs.get(camera_id)
        return [target.status() for target in output.targets] if output is not None else None

    def metrics_text(self) -> str:
        rows = [(output.camera_id, target.status()) for output in self.outputs.values()
                for target in output.targets]
        if not rows:
            return ""
        lines = []
        for name, kind, help_text, key in _METRICS:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for camera_id, status in rows:
                lines.append(f'{name}{{camera="{camera_id}",target="{_label(status["url"])}"}} '
                             f"{float(status[key]):g}")
        # The last error as an info metric (its text a label, already masked, one series per
        # target at a time) and its time, so an alert can say why and since when.
        lines += ["# HELP camserver_restream_last_error 1 for the target's last error "
                  "(FFmpeg's first error line or the reason it was killed, keys masked)",
                  "# TYPE camserver_restream_last_error gauge",
                  "# HELP camserver_restream_last_error_timestamp_seconds when the target's "
                  "last error happened (unix time; 0: none yet)",
                  "# TYPE camserver_restream_last_error_timestamp_seconds gauge"]
        for camera_id, status in rows:
            labels = f'camera="{camera_id}",target="{_label(status["url"])}"'
            if status["last_error"] is not None:
                lines.append(f'camserver_restream_last_error{{{labels},'
                             f'error="{_label(status["last_error"][:MAX_ERROR_LABEL])}"}} 1')
            at = status["last_error_at"]
            lines.append(f"camserver_restream_last_error_timestamp_seconds{{{labels}}} "
                         f"{at if at is not None else 0:.3f}")
        return "\n".join(lines) + "\n"


_METRICS = (
    ("camserver_restream_connected", "gauge", "1 while the restream target takes the stream",
     "connected"),
    ("camserver_restream_bytes_total", "counter", "bytes written to the restream target",
     "bytes"),
    ("camserver_restream_frames_sent_total", "counter", "frames handed to the target's FFmpeg",
     "frames_sent"),
    ("camserver_restream_frames_delivered_total", "counter",
     "frames FFmpeg wrote to the target", "frames_delivered"),
    ("camserver_restream_frames_skipped_total", "counter",
     "frames skipped for a target that was behind or reconnecting", "frames_skipped"),
    ("camserver_restream_connects_total", "counter", "connections the target accepted",
     "connects"),
    ("camserver_restream_failures_total", "counter", "pushes that failed or were lost",
     "failures"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
