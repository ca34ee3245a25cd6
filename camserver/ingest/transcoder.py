"""One camera's FFmpeg child: JPEGs in, H.264 access units out, restarted when it must be.

:class:`Transcoder` is the only place that starts, feeds, restarts and reaps FFmpeg. Contract:

- :meth:`Transcoder.submit` never blocks and never queues without bound. It writes the JPEG to
  FFmpeg's stdin, or holds it while a child starts, or drops it (with a reason, counted in
  :attr:`Transcoder.dropped`).
- Every encoded frame comes back through ``on_frame(avcc, keyframe, tag)`` with the ``tag`` given
  to the matching ``submit``. Each JPEG enters FFmpeg with its own timestamp (Matroska framing,
  :mod:`camserver.media.mkv`, and ``-copyts``) and comes out with it, so frames are paired by
  timestamp: a JPEG FFmpeg refuses is counted as dropped and shifts nothing. Before the first
  frame of every child comes ``on_config(AvcConfig)``. Every frame submitted ends up encoded,
  dropped (by reason) or, for a moment, in flight (:meth:`Transcoder.in_flight`).
- A new frame size starts a new child (after the old one has delivered everything it had), at
  most ``size_restarts`` times per ``size_restart_period``: a camera whose size flaps keeps its
  encoder, and FFmpeg scales the odd frames to the encoder's size. So does a camera whose frame
  rate has moved away from the one its child was started with (framerate.py: the encoder's rate
  control needs it for the bitrate to hold).
- A child that exits by itself, or holds a frame for ``hang_timeout`` seconds of its own time,
  is replaced, with a backoff that doubles per failure. "Its own time" leaves out the time the
  event loop itself was late (:class:`~camserver.loopwatch.LoopMonitor`): a server too busy to
  read FFmpeg's output must not blame FFmpeg. A child is failed at most once.
- Every child is reaped; children get SIGKILL if the server dies (PR_SET_PDEATHSIG) and run in
  their own session so a terminal's Ctrl-C reaches only the server, which stops them in order.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import re
import signal
import subprocess
import sys
import time
from typing import Any, Callable

from ..loopwatch import LoopMonitor
from ..media.flv import FlvError, FlvReader
from ..media.h264 import AvcConfig, H264Error
from ..media.mkv import LiveMjpegWriter
from ..ratelimit import RateLimitedLog, clip
from . import framerate
from .ffmpeg import Encoder, transcode_command

log = logging.getLogger(__name__)

OnConfig = Callable[[AvcConfig], None]
OnFrame = Callable[[bytes, bool, Any], None]

#: FLV timestamps are 32-bit milliseconds.
_FLV_MASK = 0xFFFFFFFF
#: Memory addresses in FFmpeg's messages ("[mjpeg @ 0x55d0...]") make every line unique.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class _Pending:
    __slots__ = ("tag", "written", "lag")

    def __init__(self, tag: Any, written: float, lag: float):
        self.tag, self.written, self.lag = tag, written, lag


class _Child:
    """One FFmpeg process for one frame size."""

    def __init__(self, proc: asyncio.subprocess.Process, size: tuple[int, int], name: str,
                 fps: float):
        self.proc = proc
        self.size = size
        self.name = name
        #: The frame rate the encoder was told, and when it started (monotonic).
        self.fps = fps
        self.started = time.monotonic()
        #: FFmpeg's input: live Matroska, each JPEG stamped with its arrival time.
        self.input = LiveMjpegWriter(*size, fps)
        proc.stdin.write(self.input.header())
        #: FFmpeg timestamp (ms, as FLV carries it) -> the frame inside FFmpeg, oldest first.
        self.pending: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self.frames_out = 0
        self.stopping = False
        self.tasks: list[asyncio.Task] = []

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.proc.stdin.is_closing()

    def queued_bytes(self) -> int:
        transport = self.proc.stdin.transport
        return transport.get_write_buffer_size() if transport else 0

    def held_for(self, now: float, lag_now: float) -> float:
        """How long FFmpeg has had the oldest frame it has not returned, minus the time the
        event loop was late meanwhile (when it could not have read FFmpeg's answer)."""
        if not self.pending:
            return 0.0
        oldest = next(iter(self.pending.values()))
        return (now - oldest.written) - (lag_now - oldest.lag)

    def write(self, jpeg: bytes, tag: Any, arrived: float, now: float, lag: float) -> None:
        ms, cluster = self.input.frame(jpeg, arrived)
        self.pending[ms & _FLV_MASK] = _Pending(tag, now, lag)
        self.proc.stdin.write(cluster)

    def take(self, flv_ms: int) -> tuple[_Pending | None, int]:
        """The frame FFmpeg returned at ``flv_ms`` (its tag and when it was written), and how
        many older frames it will never return. (None, 0) for a timestamp we did not write."""
        if flv_ms not in self.pending:
            return None, 0
        skipped = 0
        while True:
            ms, entry = self.pending.popitem(last=False)
            if ms == flv_ms:
                return entry, skipped
            skipped += 1

    async def finish(self, timeout: float = 3.0) -> None:
        """Close stdin so FFmpeg flushes its last frames and exits; kill it if it does not."""
        self.stopping = True
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            log.warning("%s: FFmpeg did not exit %g s after end of input; killing it",
                        self.name, timeout)
            await self.kill()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def kill(self) -> None:
        self.stopping = True
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class _TokenBucket:
    def __init__(self, capacity: int, period: float):
        self.capacity, self._rate = capacity, capacity / period
        self._tokens, self._stamp = float(capacity), time.monotonic()

    def take(self, now: float) -> bool:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Transcoder:
    def __init__(self, name: str, ffmpeg: str, encoder: Encoder, bitrate: str, gop: float,
                 on_config: OnConfig, on_frame: OnFrame, *, hang_timeout: float = 5.0,
                 max_queued_bytes: int = 8 * 1024 * 1024, max_backoff: float = 30.0,
                 size_restarts: int = 3, size_restart_period: float = 60.0,
                 loop_monitor: LoopMonitor | None = None, stop_timeout: float = 3.0,
                 fps_hint: Callable[[], Any] | None = None):
        self.name = name
        self.encoder = encoder
        self._ffmpeg, self._bitrate, self._gop = ffmpeg, bitrate, gop
        #: The camera's measured frame rate; ``fps_hint()`` gives the one it announced, if any.
        self.frame_rate = framerate.FrameRateEstimator()
        self._fps_hint = fps_hint or (lambda: None)
        self._on_config = on_config
        self._on_frame = on_frame
        self._hang_timeout = hang_timeout
        self._max_queued_bytes = max_queued_bytes
        self._max_backoff = max_backoff
        self._size_restarts = _TokenBucket(size_restarts, size_restart_period)
        self._loop = loop_monitor
        self._stop_timeout = stop_timeout
        self._child: _Child | None = None
        self._ending: set[_Child] = set()
        self._switching: asyncio.Task | None = None
        # Frames that arrive while a child starts: a second or so, then the oldest go.
        self._backlog: collections.deque[tuple[bytes, Any, float]] = collections.deque(maxlen=60)
        self._failures = 0
        self._retry_at = 0.0
        self._closed = False
        self._log = RateLimitedLog(log)
        #: Counters for /status.
        self.starts = 0
        self.restarts_after_failure = 0
        self.dropped: collections.Counter[str] = collections.Counter()
        #: Frames of another size encoded at the encoder's size (restarts were rate-limited).
        self.frames_rescaled = 0
        #: FFmpeg's share of the server-added delay for recent frames, ms: JPEG written to its
        #: input -> its H.264 read back. The rest of the server-added delay is the server's own.
        self.encode_ms: collections.deque[float] = collections.deque(maxlen=300)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def fps(self) -> float | None:
        """The frame rate the running encoder was told (None if none runs)."""
        return self._child.fps if self._child is not None else None

    @property
    def frames_dropped(self) -> int:
        return sum(self.dropped.values())

    def in_flight(self) -> int:
        """Frames submitted that are neither encoded nor dropped yet."""
        children = {self._child, *self._ending} - {None}
        return len(self._backlog) + sum(len(c.pending) for c in children)

    def _lag(self) -> float:
        return self._loop.lag_total() if self._loop is not None else 0.0

    def submit(self, jpeg: bytes, size: tuple[int, int], arrived: float, tag: Any) -> bool:
        """Encode ``jpeg`` (``size``, fully received at monotonic ``arrived``); its encoded
        frame will come back with ``tag``. Returns False if it was dropped."""
        if self._closed:
            return self._drop("encoder-stopped")
        now = time.monotonic()
        self.frame_rate.add(arrived)
        child = self._child
        if child is not None and child.alive:
            held = child.held_for(now, self._lag())
            if held > self._hang_timeout:
                log.warning("%s: FFmpeg has held a frame for %.1f s (not counting %.1f s the "
                            "server itself was late); restarting it", self.name, held,
                            now - next(iter(child.pending.values())).written - held)
                self._failed(now)
                self._switch(child.size, kill=True)
                return self._hold(jpeg, tag, arrived)
            if self._switching is None and framerate.needs_restart(
                    child.fps, self.frame_rate.fps, now - child.started):
                self._log.log(logging.INFO, "rate-change", "%s: the camera sends %.2f fps, its "
                              "encoder was started for %g; restarting it so that the bitrate "
                              "holds", self.name, self.frame_rate.fps, child.fps)
                self._switch(child.size, kill=False)
                return self._hold(jpeg, tag, arrived)
            if child.size == size or not self._size_restarts.take(now):
                if child.size != size:
                    self.frames_rescaled += 1
                    self._log.log(logging.WARNING, "size-flapping",
                                  "%s: frame size keeps changing (now %dx%d); keeping the "
                                  "encoder at %dx%d for a while (FFmpeg scales the others)",
                                  self.name, *size, *child.size)
                if child.queued_bytes() > self._max_queued_bytes:
                    self._log.log(logging.WARNING, "behind",
                                  "%s: encoder is not keeping up; dropping frames", self.name)
                    return self._drop("encoder-behind")
                child.write(jpeg, tag, arrived, now, self._lag())
                return True
            self._log.log(logging.INFO, "size-change",
                          "%s: frame size changed from %dx%d to %dx%d; restarting the encoder",
                          self.name, *child.size, *size)
            self._switch(size, kill=False)
            return self._hold(jpeg, tag, arrived)
        if self._switching is not None:
            return self._hold(jpeg, tag, arrived)
        if now < self._retry_at:
            return self._drop("restart-backoff")
        self._switch(size, kill=False)
        return self._hold(jpeg, tag, arrived)

    async def close(self, timeout: float | None = None) -> None:
        """Stop FFmpeg (flushing its last frames) and reap it. ``submit`` restarts it later."""
        if self._switching is not None:
            await asyncio.gather(self._switching, return_exceptions=True)
        child, self._child = self._child, None
        for _ in range(len(self._backlog)):
            self._drop("encoder-stopped")
        self._backlog.clear()
        if child is not None:
            await self._end(child, child.finish(timeout or self._stop_timeout))

    async def shutdown(self, timeout: float | None = None) -> None:
        """Close for good: no further submit is accepted."""
        self._closed = True
        await self.close(timeout)

    def _drop(self, reason: str) -> bool:
        self.dropped[reason] += 1
        return False

    def _hold(self, jpeg: bytes, tag: Any, arrived: float) -> bool:
        if len(self._backlog) == self._backlog.maxlen:
            self._drop("start-backlog-full")
        self._backlog.append((jpeg, tag, arrived))
        return True

    def _failed(self, now: float) -> None:
        delay = min(self._max_backoff, 0.5 * 2 ** self._failures)
        self._failures += 1
        self.restarts_after_failure += 1
        self._retry_at = now + delay
        if delay >= 1:
            log.warning("%s: next FFmpeg start in %g s", self.name, delay)

    def _switch(self, size: tuple[int, int], kill: bool) -> None:
        if self._child is not None:
            self._child.stopping = True  # failed or replaced once, whatever happens next
        self._switching = asyncio.create_task(self._replace_child(size, kill))

    async def _end(self, child: _Child, ending) -> None:
        """Wait for ``child`` to end; frames it never returned are dropped."""
        self._ending.add(child)
        try:
            await ending
        finally:
            self._ending.discard(child)
            for _ in range(len(child.pending)):
                self._drop("lost-in-encoder-restart")
            child.pending.clear()

    async def _replace_child(self, size: tuple[int, int], kill: bool) -> None:
        try:
            old, self._child = self._child, None
            if old is not None:
                await self._end(old, old.kill() if kill else old.finish(self._stop_timeout))
            if self._closed:
                return
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._child = await self._start_child(size)
            backlog, self._backlog = self._backlog, collections.deque(maxlen=self._backlog.maxlen)
            now = time.monotonic()
            for jpeg, tag, arrived in backlog:
                # Frames held through a long backoff are history, not live video.
                if now - arrived > 1.0:
                    self._drop("stale-after-restart")
                    continue
                self._child.write(jpeg, tag, arrived, now, self._lag())
        except Exception:
            log.exception("%s: could not start FFmpeg", self.name)
            self._failed(time.monotonic())
        finally:
            self._switching = None

    async def _start_child(self, size: tuple[int, int]) -> _Child:
        fps = framerate.encoder_fps(self.frame_rate.fps, framerate.hinted_fps(self._fps_hint()))
        command = transcode_command(self._ffmpeg, self.encoder, self._bitrate, self._gop, size)
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_die_with_parent)
        self.starts += 1
        child = _Child(proc, size, self.name, fps)
        child.tasks = [asyncio.create_task(self._read_frames(child)),
                       asyncio.create_task(self._log_stderr(child))]
        self._log.log(logging.INFO, "start", "%s: FFmpeg started (pid %d) for %dx%d at %g fps "
                      "with %s", self.name, proc.pid, *size, fps, self.encoder.name)
        return child

    async def _read_frames(self, child: _Child) -> None:
        reader = FlvReader()
        try:
            while chunk := await child.proc.stdout.read(256 * 1024):
                for tag in reader.feed(chunk):
                    if tag.is_sequence_header:
                        self._on_config(AvcConfig.parse(tag.data))
                        continue
                    entry, refused = child.take(tag.timestamp_ms)
                    if entry is not None:
                        self.encode_ms.append((time.monotonic() - entry.written) * 1000)
                    if refused:
                        self.dropped["refused-by-ffmpeg"] += refused
                        self._log.log(logging.WARNING, "refused",
                                      "%s: FFmpeg could not decode %d frame(s); the next ones "
                                      "keep their own times", self.name, refused)
                    child.frames_out += 1
                    if child.frames_out == 1:
                        self._failures = 0
                    self._on_frame(tag.data, tag.keyframe,
                                   entry.tag if entry is not None else None)
        except (FlvError, H264Error) as exc:
            log.error("%s: unreadable FFmpeg output (%s); restarting it", self.name, exc)
            child.proc.kill()
        returncode = await child.proc.wait()
        if not child.stopping and not self._closed:
            child.stopping = True
            log.warning("%s: FFmpeg exited unexpectedly with code %s after %d frames",
                        self.name, returncode, child.frames_out)
            self._failed(time.monotonic())
            if self._child is child:
                self._child = None
                await self._end(child, asyncio.sleep(0))

    async def _log_stderr(self, child: _Child) -> None:
        while line := await child.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            if text:
                # One key per kind of message, not per memory address or number in it.
                key = re.sub(r"\d+", "#", _ADDRESS.sub("", text))[:60]
                self._log.log(logging.WARNING, key, "%s: ffmpeg: %s", self.name, clip(text))
