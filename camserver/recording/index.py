"""What is on disk: every camera's segments (time, length, size) and motion events, in memory.

Layout under ``record_dir``::

    <camera>/<YYYY-MM-DD>/<HH-MM-SS>.mp4      segments (naming.py)
    <camera>/<YYYY-MM-DD>/events.jsonl         motion events, one JSON object a line

The index is built once at start-up by :func:`list_files` and :func:`scan` (in a thread: it
reads every segment's boxes, which is all moof headers and no video) and then kept up to date by the recorders, so
the API and retention never walk the disk. Mutating methods are for the event loop's thread
only; :meth:`RecordingIndex.load` (a segment's sample table, for clips) is safe from any thread.

Start-up repair: a segment that ends in a cut-off fragment (the server was killed or the power
cut mid-write) is truncated to its last whole fragment, and a segment with no whole fragment is
deleted; each with a log line. Files whose names the recorder would not write are never
touched.

Events lines: ``{"start": <UTC seconds>, "score": <0-1>}`` when a motion event begins (so a
crash keeps it), then the same start with ``"duration"`` when it ends; the last line wins.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import naming
from .clip import GAP_SECONDS
from .segment import NotASegment, SegmentFile, read_segment

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
CAMERA_DIR = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Parsed segments kept for clips (a few hours of 60 s segments).
LOAD_CACHE = 256


@dataclass
class Entry:
    camera: str
    path: str
    #: UTC of the first frame; seconds of video on disk; bytes on disk.
    start: float
    duration: float
    size: int
    #: Being written now.
    live: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Event:
    start: float
    duration: float | None
    score: float


def day_of(utc: float, offset_at: naming.OffsetAt = naming.system_offset) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(int(utc // 1) + offset_at(int(utc // 1))))


def events_path(camera_dir: Path, utc: float,
                offset_at: naming.OffsetAt = naming.system_offset) -> str:
    return str(camera_dir / day_of(utc, offset_at) / EVENTS_FILE)


def event_line(event: Event) -> str:
    record = {"start": round(event.start, 3), "score": round(event.score, 4)}
    if event.duration is not None:
        record["duration"] = round(event.duration, 3)
    return json.dumps(record)


class RecordingIndex:
    def __init__(self, record_dir: Path):
        self.record_dir = record_dir
        self._entries: dict[str, dict[str, Entry]] = collections.defaultdict(dict)
        self._events: dict[str, dict[float, Event]] = collections.defaultdict(dict)
        self._cache: collections.OrderedDict[tuple, SegmentFile] = collections.OrderedDict()
        self._cache_lock = threading.Lock()

    # -- segments ----------------------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        self._entries[entry.camera][entry.path] = entry

    def get(self, camera: str, path: str) -> Entry | None:
        return self._entries.get(camera, {}).get(path)

    def remove(self, camera: str, path: str) -> None:
        entries = self._entries.get(camera)
        if entries is not None:
            entries.pop(path, None)
            if not entries:
                del self._entries[camera]
                self._events.pop(camera, None)

    def cameras(self) -> list[str]:
        return sorted(camera for camera, entries in self._entries.items() if entries)

    def entries(self, camera: str | None = None) -> list[Entry]:
        if camera is None:
            found = [e for entries in self._entries.values() for e in entries.values()]
        else:
            found = list(self._entries.get(camera, {}).values())
        return sorted(found, key=lambda e: (e.start, e.path))

    def bytes(self, camera: str | None = None) -> int:
        if camera is None:
            return sum(e.size for entries in self._entries.values() for e in entries.values())
        return sum(e.size for e in self._entries.get(camera, {}).values())

    def oldest(self, camera: str) -> float | None:
        entries = self._entries.get(camera)
        return min((e.start for e in entries.values()), default=None) if entries else None

    def newest(self, camera: str) -> float | None:
        entries = self._entries.get(camera)
        return max((e.end for e in entries.values()), default=None) if entries else None

    def overlapping(self, camera: str, start: float, end: float) -> list[Entry]:
        return [e for e in self.entries(camera) if e.end > start and e.start < end]

    def spans(self, camera: str, start: float, end: float) -> list[tuple[float, float]]:
        """Recorded stretches of ``camera`` within ``start``..``end`` (UTC), pauses over
        :data:`clip.GAP_SECONDS` splitting them, clipped to the window."""
        spans: list[list[float]] = []
        for entry in self.entries(camera):
            if entry.duration <= 0:
                continue
            if spans and entry.start - spans[-1][1] <= GAP_SECONDS:
                spans[-1][1] = max(spans[-1][1], entry.end)
            else:
                spans.append([entry.start, entry.end])
        return [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]

    # -- events ------------------------------------------------------------------------------------

    def put_event(self, camera: str, event: Event) -> None:
        self._events[camera][round(event.start, 3)] = event

    def events(self, camera: str, start: float, end: float) -> list[Event]:
        found = [e for e in self._events.get(camera, {}).values()
                 if e.start < end and e.start + (e.duration or 0) >= start]
        return sorted(found, key=lambda e: e.start)

    def forget_events_before(self, camera: str, utc: float) -> None:
        events = self._events.get(camera)
        if events:
            for key in [k for k, e in events.items() if e.start + (e.duration or 0) < utc]:
                del events[key]

    # -- reading files (any thread) ----------------------------------------------------------------

    def load(self, path: str) -> SegmentFile:
        """A segment's samples as on disk now (cached while the file is unchanged). Raises
        OSError or NotASegment."""
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            key = (path, stat.st_size, stat.st_mtime_ns)
            with self._cache_lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
            segment = read_segment(f, stat.st_size)
        with self._cache_lock:
            self._cache[key] = segment
            while len(self._cache) > LOAD_CACHE:
                self._cache.popitem(last=False)
        return segment


@dataclass
class ScanResult:
    entries: list[Entry]
    events: list[tuple[str, Event]]


def list_files(record_dir: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """(segments, event logs) under ``record_dir`` as (camera, path), oldest first (blocking).
    Only names the recorder writes are listed."""
    segments: list[tuple[str, Path]] = []
    events: list[tuple[str, Path]] = []
    if not record_dir.is_dir():
        return segments, events
    for camera_dir in sorted(record_dir.iterdir()):
        if not (CAMERA_DIR.fullmatch(camera_dir.name) and camera_dir.is_dir()):
            continue
        for day_dir in sorted(camera_dir.iterdir()):
            if not (naming.DAY_DIR.fullmatch(day_dir.name) and day_dir.is_dir()):
                continue
            for path in sorted(day_dir.iterdir()):
                if path.name == EVENTS_FILE:
                    events.append((camera_dir.name, path))
                elif naming.is_segment_path(day_dir.name, path.name):
                    segments.append((camera_dir.name, path))
    return segments, events


def scan(segments: list[tuple[str, Path]], events: list[tuple[str, Path]]) -> ScanResult:
    """Read the files :func:`list_files` found (blocking: run it in a thread), repairing
    segments that end in a cut-off fragment. Files created since the listing are not touched."""
    result = ScanResult([], [])
    for camera, path in segments:
        entry = _scan_segment(camera, path)
        if entry is not None:
            result.entries.append(entry)
    for camera, path in events:
        result.events += [(camera, e) for e in _read_events(path)]
    return result


def _scan_segment(camera: str, path: Path) -> Entry | None:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            segment = read_segment(f, size)
    except NotASegment as exc:
        log.warning("Recording %s is not readable (%s); leaving it alone", path, exc)
        return None
    except OSError as exc:
        log.warning("Cannot read recording %s: %s", path, exc.strerror or exc)
        return None
    try:
        if not segment.samples or segment.start_utc is None:
            path.unlink()
            log.warning("Removed recording %s: it holds no whole fragment (the server stopped "
                        "while starting it)", path)
            return None
        if segment.valid_bytes < size:
            os.truncate(path, segment.valid_bytes)
            log.warning("Repaired recording %s: cut %d bytes of a fragment the server did not "
                        "finish writing (killed or power cut); %.1f s remain", path,
                        size - segment.valid_bytes, segment.duration)
            size = segment.valid_bytes
    except OSError as exc:
        log.warning("Cannot repair recording %s: %s", path, exc.strerror or exc)
    return Entry(camera, str(path), segment.start_utc, segment.duration, size)


def _read_events(path: Path) -> list[Event]:
    events: dict[float, Event] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                    start = float(record["start"])
                    duration = record.get("duration")
                    events[round(start, 3)] = Event(
                        start, None if duration is None else float(duration),
                        float(record.get("score", 0)))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by a crash
    except OSError as exc:
        log.warning("Cannot read motion events %s: %s", path, exc.strerror or exc)
    return list(events.values())
