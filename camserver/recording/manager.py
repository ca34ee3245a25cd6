"""Recording for the whole server: a recorder per camera, the index of what is on disk,
retention, and what ``/status``, ``/metrics`` and the playback API read.

The app creates one :class:`RecordingManager`, awaits :meth:`~RecordingManager.start` before
cameras can connect, calls :meth:`~RecordingManager.attach` for every stream it creates, and
awaits :meth:`~RecordingManager.close` at shutdown (files flushed and closed, threads ended).

Threads: one writer per recording camera (:mod:`writer`), one shared worker for motion
detection, and short-lived worker-pool jobs for the start-up scan, retention (``statvfs`` and
deletions) and clips. The index and the recorders live on the event loop; threads report back
with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..ratelimit import RateLimitedLog
from . import index as index_module
from . import naming, retention
from .clip import GAP_SECONDS, ClipPlan, Source, plan_clip
from .index import RecordingIndex
from .recorder import Recorder, iso
from .segment import NotASegment
from .settings import RecordingConfig
from .writer import SegmentWriter, set_thread_name

if TYPE_CHECKING:
    from ..ingest.stream import CameraStream

log = logging.getLogger(__name__)

#: Retention runs this often, and soon after each file is finished.
RETENTION_SECONDS = 5.0
TICK_SECONDS = 0.5
#: Shutdown waits this long in all for the writers to finish their queues.
CLOSE_SECONDS = 5.0
#: Clip plans kept for players that come back for another byte range.
CLIP_CACHE = 8


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _duration(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length and seconds % length == 0:
            return f"{seconds / length:g}{unit}"
    return f"{seconds:g}s"


class RecordingManager:
    def __init__(self, config: RecordingConfig,
                 offset_at: naming.OffsetAt = naming.system_offset):
        self.config = config
        self.settings = config.recording
        self.record_dir = Path(config.recording.record_dir).absolute()
        self.offset_at = offset_at
        self.index = RecordingIndex(self.record_dir)
        self.recorders: dict[str, Recorder] = {}
        self.motion_executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="motion", initializer=set_thread_name,
            initargs=("motion",))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.deleted = 0
        self.bytes_deleted = 0
        self._tasks: list[asyncio.Task] = []
        self._retention_due = asyncio.Event()
        self._short_of_space: str | None = None
        self._logs = RateLimitedLog(log, interval=60)
        self._clips: collections.OrderedDict[tuple, ClipPlan | None] = collections.OrderedDict()
        self._clips_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """List what is on disk (files written from now on are not touched by the start-up
        scan), then read and repair it in the background."""
        self.loop = asyncio.get_running_loop()
        segments, events = await asyncio.to_thread(index_module.list_files, self.record_dir)
        self._tasks.append(asyncio.create_task(self._load(segments, events)))
        self._tasks.append(asyncio.create_task(self._tick_forever()))
        self._tasks.append(asyncio.create_task(self._retention_forever()))

    async def _load(self, segments, events) -> None:
        found = await asyncio.to_thread(index_module.scan, segments, events)
        for entry in found.entries:
            if self.index.get(entry.camera, entry.path) is None:
                self.index.add(entry)
        for camera, event in found.events:
            self.index.put_event(camera, event)
        if found.entries:
            total = sum(e.size for e in found.entries)
            cameras = sorted({e.camera for e in found.entries})
            log.info("Recordings in %s: %d files, %s, cameras %s", self.record_dir,
                     len(found.entries), _size(total), ", ".join(cameras))
        self._retention_due.set()

    async def close(self, timeout: float = CLOSE_SECONDS) -> None:
        for task in self._tasks:
            task.cancel()
        writers = [recorder.close() for recorder in self.recorders.values()]
        writers = [w for w in writers if w is not None]

        for writer in writers:
            writer.request_stop()

        def stop_all() -> None:
            deadline = time.monotonic() + timeout
            for writer in writers:
                if not writer.join(max(0.0, deadline - time.monotonic())):
                    log.warning("%s: recording writer did not finish in %g s (a hung disk?); "
                                "its last fragments may be lost", writer.name, timeout)

        await asyncio.to_thread(stop_all)
        self.motion_executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.sleep(0)  # let the writers' last reports (file closed) run

    # -- streams and recorders -------------------------------------------------------------------

    def attach(self, stream: "CameraStream") -> None:
        """Record ``stream`` if its camera's settings say so (called when a stream is made)."""
        settings = self.config.for_camera(stream.id)
        if settings.record == "off":
            return
        recorder = self.recorders.get(stream.id)
        if recorder is None:
            recorder = self.recorders[stream.id] = Recorder(stream.id, settings, self)
            log.info("%s: recording %s (%g s files%s) to %s", recorder.name, settings.record,
                     settings.segment_seconds,
                     f", kept {_duration(settings.keep)}" if settings.keep else "",
                     self.camera_dir(stream.id))
        recorder.bind(stream)
        if self._short_of_space is not None:
            recorder.set_short_of_space(self._short_of_space)

    def make_writer(self, recorder: Recorder) -> SegmentWriter:
        return SegmentWriter(recorder.name, self.camera_dir(recorder.camera_id),
                             lambda *args: self.call_soon_threadsafe(recorder.on_writer, *args),
                             self.offset_at)

    def call_soon_threadsafe(self, callback: Callable, *args) -> None:
        """From a thread: run ``callback`` on the loop (silently nothing once it has closed)."""
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass

    def camera_dir(self, camera_id: str) -> Path:
        return self.record_dir / camera_id

    def relative(self, path: str) -> str:
        return os.path.relpath(path, self.record_dir)

    def segment_closed(self) -> None:
        self._retention_due.set()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for recorder in list(self.recorders.values()):
                try:
                    recorder.tick(now)
                except Exception as exc:
                    self._logs.log(logging.ERROR, "tick", "%s: recorder tick failed: %r",
                                   recorder.name, exc, exc_info=True)

    # -- retention -------------------------------------------------------------------------------

    async def _retention_forever(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._retention_due.wait(), RETENTION_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._retention_due.clear()
            try:
                await self.apply_retention()
            except Exception as exc:
                self._logs.log(logging.ERROR, "retention", "Recording retention failed: %r",
                               exc, exc_info=True)

    async def apply_retention(self) -> retention.Plan:
        segments = [retention.Stored(e.camera, e.path, e.start, e.end, e.size, e.live)
                    for e in self.index.entries()]
        if not segments and not self.recorders:
            return retention.Plan()  # a server that records nothing: no disk to look at
        keeps = {}

        def keep(camera: str) -> float | None:
            if camera not in keeps:
                keeps[camera] = self.config.for_camera(camera).keep
            return keeps[camera]

        settings = self.settings

        def work():
            free = _free_bytes(self.record_dir)
            plan = retention.plan(segments, now=time.time(), keep=keep,
                                  max_bytes=settings.max_bytes, free_bytes=free,
                                  min_free_bytes=settings.min_free_bytes)
            done = []
            for deletion in plan.deletions:
                try:
                    os.unlink(deletion.segment.path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    self._logs.log(logging.WARNING, "delete", "Cannot delete recording %s: %s",
                                   deletion.segment.path, exc.strerror or exc)
                    continue
                done.append(deletion)
                _remove_empty_day(Path(deletion.segment.path).parent)
            return plan, free, done

        plan, free, done = await asyncio.to_thread(work)
        rules = {"keep": lambda c: f"older than keep = {_duration(keep(c))}",
                 "max_bytes": lambda c: f"recordings over max_bytes = {_size(settings.max_bytes)}",
                 "min_free_bytes": lambda c: "free space under min_free_bytes = "
                                             f"{_size(settings.min_free_bytes)}"}
        for deletion in done:
            segment = deletion.segment
            self.index.remove(segment.camera, segment.path)
            self.deleted += 1
            self.bytes_deleted += segment.size
            log.info("Deleted recording %s (%s, %s): %s", self.relative(segment.path),
                     iso(segment.start), _size(segment.size), rules[deletion.rule](segment.camera))
        for camera in {d.segment.camera for d in done}:
            oldest = self.index.oldest(camera)
            if oldest is not None:
                self.index.forget_events_before(camera, oldest)
        short = None
        if plan.short_of_space:
            short = (f"only {_size(free)} free in {self.record_dir}, under min_free_bytes = "
                     f"{_size(settings.min_free_bytes)}, and no older recording left to delete")
        if (short is None) != (self._short_of_space is None):
            if short is None:
                log.info("Free space is back over min_free_bytes in %s", self.record_dir)
            self._short_of_space = short
            for recorder in self.recorders.values():
                recorder.set_short_of_space(short)
        return plan

    # -- what the API and /status read -----------------------------------------------------------

    def clip_paths(self, camera: str, start: float, duration: float) -> list[str]:
        """The files a clip of ``camera`` from ``start`` may need (on the loop)."""
        return [e.path for e in self.index.overlapping(camera, start - GAP_SECONDS,
                                                       start + duration)]

    def build_clip(self, paths: list[str], start: float, duration: float) -> ClipPlan | None:
        """Read the files and plan the clip (blocking: run it in a thread). A player asks for
        the same clip again and again (one request per seek, HTTP Range): while its files are
        unchanged, the plan is reused (an hour's plan takes ~0.25 s to build)."""
        stamps = []
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamps.append((path, st.st_size, st.st_mtime_ns))
        key = (start, duration, tuple(stamps))
        with self._clips_lock:
            if key in self._clips:
                self._clips.move_to_end(key)
                return self._clips[key]
        plan = self._plan_clip(paths, start, duration)
        with self._clips_lock:
            self._clips[key] = plan
            while len(self._clips) > CLIP_CACHE:
                self._clips.popitem(last=False)
        return plan

    def _plan_clip(self, paths: list[str], start: float, duration: float) -> ClipPlan | None:
        sources = []
        for path in paths:
            try:
                sources.append(Source(path, self.index.load(path)))
            except FileNotFoundError:
                continue  # deleted by retention meanwhile
            except (OSError, NotASegment) as exc:
                self._logs.log(logging.WARNING, f"clip {path}", "Cannot read recording %s for "
                               "a clip: %s", path, exc)
        return plan_clip(sources, start, duration)

    def camera_status(self, camera_id: str) -> dict:
        recorder = self.recorders.get(camera_id)
        if recorder is not None:
            return recorder.status()
        return {"mode": self.config.for_camera(camera_id).record, "state": "off",
                "bytes": self.index.bytes(camera_id), "oldest": iso(self.index.oldest(camera_id)),
                "newest": iso(self.index.newest(camera_id)), "last_error": None,
                "motion_events": 0}

    def metrics_text(self) -> str:
        cameras = sorted(set(self.recorders) | set(self.index.cameras()))
        rows = [(camera, self.camera_status(camera)) for camera in cameras]
        metrics = (
            ("camserver_recording", "gauge", "1 while the camera is being recorded to a file",
             lambda s: 1 if s["state"] == "recording" else 0),
            ("camserver_recording_error", "gauge",
             "1 while recording is stopped by a disk error or lack of space",
             lambda s: 1 if s["state"] in ("error", "paused") else 0),
            ("camserver_recording_bytes", "gauge", "bytes of recordings on disk",
             lambda s: s["bytes"]),
            ("camserver_recording_oldest_timestamp_seconds", "gauge",
             "start of the oldest recording (Unix time)",
             lambda s: self.index.oldest(s["_camera"])),
            ("camserver_recording_frames_dropped_total", "counter",
             "frames not recorded because of the disk", lambda s: s.get("frames_dropped", 0)),
            ("camserver_motion_events_total", "counter", "motion events since the server started",
             lambda s: s["motion_events"]),
        )
        lines = []
        for name, kind, help_text, value in metrics:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for camera, status in rows:
                v = value({**status, "_camera": camera})
                if v is not None:
                    lines.append(f'{name}{{camera="{camera}"}} {float(v):.17g}')
        lines += ["# HELP camserver_recordings_deleted_total recording files deleted by retention",
                  "# TYPE camserver_recordings_deleted_total counter",
                  f"camserver_recordings_deleted_total {self.deleted}"]
        return "\n".join(lines) + "\n"


def _free_bytes(directory: Path) -> int | None:
    """Free space for an unprivileged writer on ``directory``'s file system (its nearest existing
    parent before it is created)."""
    for candidate in (directory, *directory.parents):
        try:
            st = os.statvfs(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return st.f_bavail * st.f_frsize
    return None


def _remove_empty_day(day_dir: Path) -> None:
    """Remove a day directory left with no recording (its motion event log goes with it)."""
    try:
        names = os.listdir(day_dir)
    except OSError:
        return
    if any(naming.is_segment_path(day_dir.name, name) for name in names):
        return
    if set(names) - {index_module.EVENTS_FILE}:
        return  # someone else's files: leave the directory
    try:
        if names:
            os.unlink(day_dir / index_module.EVENTS_FILE)
        os.rmdir(day_dir)
    except OSError:
        pass
