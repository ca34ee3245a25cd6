"""One camera's FFmpeg child: JPEGs in, H.264 access units out, restarted when it must be.

:class:`Transcoder` is the only place that starts, feeds, restarts and reaps FFmpeg. Contract:

- :meth:`Transcoder.submit` never blocks and never queues without bound. It writes the JPEG to
  FFmpeg's stdin and returns True, or drops it and returns False (encoder behind, or waiting out
  a restart backoff).
- Every encoded frame comes back through ``on_frame(avcc, keyframe, tag)`` with the ``tag`` given
  to the matching ``submit``. FFmpeg runs with ``-fps_mode passthrough``: one frame out per frame
  in, in order, so a FIFO of tags pairs them. Before the first frame of every child comes
  ``on_config(AvcConfig)``.
- A new frame size starts a new child (after the old one has delivered everything it had), and
  so does a camera whose frame rate has moved away from the one its child was started with
  (framerate.py: the encoder's rate control needs it for the bitrate to hold).
  A child that exits by itself, or holds a frame for ``hang_timeout`` seconds, is replaced with
  exponential backoff. Every child is reaped; children get SIGKILL if the server dies
  (PR_SET_PDEATHSIG) and run in their own session so a terminal's Ctrl-C reaches only the
  server, which then stops them in order.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import signal
import subprocess
import sys
import time
from typing import Any, Callable

from . import framerate
from .ffmpeg import Encoder, transcode_command
from ..media.flv import FlvError, FlvReader
from ..media.h264 import AvcConfig, H264Error
from ..media.mkv import LiveMjpegWriter
from ..ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

OnConfig = Callable[[AvcConfig], None]
OnFrame = Callable[[bytes, bool, Any], None]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


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
        self.pending: collections.deque[tuple[Any, float]] = collections.deque()
        self.frames_out = 0
        self.stopping = False
        self.tasks: list[asyncio.Task] = []

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.proc.stdin.is_closing()

    def queued_bytes(self) -> int:
        transport = self.proc.stdin.transport
        return transport.get_write_buffer_size() if transport else 0

    def oldest_pending_age(self, now: float) -> float:
        return now - self.pending[0][1] if self.pending else 0.0

    def write(self, jpeg: bytes, tag: Any, now: float) -> None:
        self.pending.append((tag, now))
        self.proc.stdin.write(self.input.frame(jpeg, now))

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


class Transcoder:
    def __init__(self, name: str, ffmpeg: str, encoder: Encoder, bitrate: str, gop: float,
                 on_config: OnConfig, on_frame: OnFrame, *, hang_timeout: float = 5.0,
                 max_queued_bytes: int = 8 * 1024 * 1024, max_backoff: float = 30.0,
                 fps_hint: Callable[[], Any] | None = None):
        self.name = name
        self.encoder = encoder
        self._command = transcode_command(ffmpeg, encoder, bitrate, gop)
        #: The camera's measured frame rate; ``fps_hint()`` gives the one it announced, if any.
        self.frame_rate = framerate.FrameRateEstimator()
        self._fps_hint = fps_hint or (lambda: None)
        self._on_config = on_config
        self._on_frame = on_frame
        self._hang_timeout = hang_timeout
        self._max_queued_bytes = max_queued_bytes
        self._max_backoff = max_backoff
        self._child: _Child | None = None
        self._switching: asyncio.Task | None = None
        # Frames that arrive while a child starts: a second or so, then the oldest go.
        self._backlog: collections.deque[tuple[bytes, Any, float]] = collections.deque(maxlen=60)
        self._failures = 0
        self._retry_at = 0.0
        self._closed = False
        self._warn = RateLimitedLog(log)
        #: Counters for /status.
        self.starts = 0
        self.restarts_after_failure = 0
        self.frames_dropped = 0

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def fps(self) -> float | None:
        """The frame rate the running encoder was told (None if none runs)."""
        return self._child.fps if self._child is not None else None

    def submit(self, jpeg: bytes, size: tuple[int, int], tag: Any) -> bool:
        if self._closed:
            return False
        now = time.monotonic()
        self.frame_rate.add(now)
        child = self._child
        if child is not None and child.alive and child.size == size:
            if child.oldest_pending_age(now) > self._hang_timeout:
                log.warning("%s: FFmpeg has held a frame for over %g s; restarting it",
                            self.name, self._hang_timeout)
                self._failed(now)
                self._switch(size, kill=True)
                return self._hold(jpeg, tag, now)
            if self._switching is None and framerate.needs_restart(
                    child.fps, self.frame_rate.fps, now - child.started):
                log.info("%s: the camera sends %.2f fps, its encoder was started for %g; "
                         "restarting it so that the bitrate holds", self.name,
                         self.frame_rate.fps, child.fps)
                self._switch(size, kill=False)
                return self._hold(jpeg, tag, now)
            if child.queued_bytes() > self._max_queued_bytes:
                self.frames_dropped += 1
                self._warn.log(logging.WARNING, "behind",
                               "%s: encoder is not keeping up; dropping frames", self.name)
                return False
            child.write(jpeg, tag, now)
            return True
        if self._switching is not None:
            return self._hold(jpeg, tag, now)
        if now < self._retry_at:
            self.frames_dropped += 1
            return False
        if child is not None and child.size != size and child.alive:
            log.info("%s: frame size changed from %dx%d to %dx%d; restarting the encoder",
                     self.name, *child.size, *size)
        self._switch(size, kill=False)
        return self._hold(jpeg, tag, now)

    async def close(self) -> None:
        """Stop FFmpeg (flushing its last frames) and reap it. ``submit`` restarts it later."""
        if self._switching is not None:
            await asyncio.gather(self._switching, return_exceptions=True)
        child, self._child = self._child, None
        self._backlog.clear()
        if child is not None:
            await child.finish()

    async def shutdown(self) -> None:
        """Close for good: no further submit is accepted."""
        self._closed = True
        await self.close()

    def _hold(self, jpeg: bytes, tag: Any, now: float) -> bool:
        if len(self._backlog) == self._backlog.maxlen:
            self.frames_dropped += 1
        self._backlog.append((jpeg, tag, now))
        return True

    def _failed(self, now: float) -> None:
        delay = min(self._max_backoff, 0.5 * 2 ** self._failures)
        self._failures += 1
        self.restarts_after_failure += 1
        self._retry_at = now + delay
        if delay >= 1:
            log.warning("%s: next FFmpeg start in %g s", self.name, delay)

    def _switch(self, size: tuple[int, int], kill: bool) -> None:
        self._switching = asyncio.create_task(self._replace_child(size, kill))

    async def _replace_child(self, size: tuple[int, int], kill: bool) -> None:
        try:
            old, self._child = self._child, None
            if old is not None:
                await (old.kill() if kill else old.finish())
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
                    self.frames_dropped += 1
                    continue
                self._child.write(jpeg, tag, arrived)
        except Exception:
            log.exception("%s: could not start FFmpeg", self.name)
            self._failed(time.monotonic())
        finally:
            self._switching = None

    async def _start_child(self, size: tuple[int, int]) -> _Child:
        fps = framerate.encoder_fps(self.frame_rate.fps, framerate.hinted_fps(self._fps_hint()))
        proc = await asyncio.create_subprocess_exec(
            *self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_die_with_parent)
        self.starts += 1
        child = _Child(proc, size, self.name, fps)
        proc.stdin.write(child.input.header())
        child.tasks = [asyncio.create_task(self._read_frames(child)),
                       asyncio.create_task(self._log_stderr(child))]
        log.info("%s: FFmpeg started (pid %d) for %dx%d at %g fps with %s", self.name, proc.pid,
                 *size, fps, self.encoder.name)
        return child

    async def _read_frames(self, child: _Child) -> None:
        reader = FlvReader()
        try:
            while chunk := await child.proc.stdout.read(256 * 1024):
                for tag in reader.feed(chunk):
                    if tag.is_sequence_header:
                        self._on_config(AvcConfig.parse(tag.data))
                        continue
                    entry = child.pending.popleft() if child.pending else (None, 0.0)
                    child.frames_out += 1
                    if child.frames_out == 1:
                        self._failures = 0
                    self._on_frame(tag.data, tag.keyframe, entry[0])
        except (FlvError, H264Error) as exc:
            log.error("%s: unreadable FFmpeg output (%s); restarting it", self.name, exc)
            child.proc.kill()
        returncode = await child.proc.wait()
        if not child.stopping and not self._closed:
            log.warning("%s: FFmpeg exited unexpectedly with code %s after %d frames",
                        self.name, returncode, child.frames_out)
            self._failed(time.monotonic())
            if self._child is child:
                self._child = None

    async def _log_stderr(self, child: _Child) -> None:
        while line := await child.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            if text:
                self._warn.log(logging.WARNING, text[:40], "%s: ffmpeg: %s", self.name, text)
