"""HTTP for recordings: the ``/recordings`` page and the playback API.

- ``GET /recordings``: the page (``recordings.html``, ``static/recordings.js``).
- ``GET /api/recordings``: ``{"cameras": [{"id", "bytes", "oldest", "newest", "state"}]}``,
  the cameras with recordings.
- ``GET /api/recordings/<id>?start=&end=`` (ISO 8601; both optional): ``{"spans": [{"start",
  "duration", "url"}], "events": [{"start", "duration", "score"}]}``: recorded stretches (split
  where recording paused over 2 s, clipped to the window) and motion events. Times are ISO 8601
  UTC, durations seconds, ``url`` a clip of the span (its first ``clip_max_seconds``). An event
  still going on has ``"duration": null``.
- ``GET /api/recordings/<id>/clip.mp4?start=<ISO>&duration=<s>[&download=1]``: one MP4 from the
  keyframe at or before ``start`` (or the first recorded after it) to ``start + duration``
  (default 60 s, at most ``clip_max_seconds``), across files; HTTP Range (single ranges;
  ``If-Range``), ``HEAD``; ``X-Clip-Start`` (ISO) and ``X-Clip-Duration`` (s) say what it holds;
  ``download=1`` adds ``Content-Disposition: attachment``. It holds what is on disk when asked:
  asking again for a stretch still being recorded can give a longer file (another ``ETag``).

Times without a UTC offset are taken as UTC. A bad camera id (which is what a path traversal
attempt looks like here), a bad time or duration is a 400 with a one-line reason; no user input
ever becomes a file path (files come from the index).

Permission: every route awaits ``authorize(request, "playback", camera_id)`` first. It refuses
by raising an aiohttp HTTP exception (401, 403). ``camera_id`` is None for the page and the
camera list (allow them if the principal may play back some camera); the list then shows only
the cameras for which ``authorize`` does not raise ``HTTPForbidden``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import os
import re
import time
import urllib.parse
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import web

from ..ratelimit import RateLimitedLog
from ..recording.clip import ClipPlan, read_range
from ..recording.manager import RecordingManager
from ..recording.recorder import iso
from ..registry import valid_camera_id

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
Authorize = Callable[[web.Request, str, "str | None"], Awaitable[None]]
DEFAULT_CLIP_SECONDS = 60.0
#: Clip bytes are read from the files in batches of about this much, in a worker thread.
READ_BATCH = 512 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z


async def allow_all(request: web.Request, action: str, camera_id: str | None) -> None:
    """The default permission hook: everyone may do everything (replaced by access control)."""


def parse_time(value: str | None, name: str) -> float | None:
    """ISO 8601 -> Unix seconds (UTC when no offset is given); None if absent."""
    if value is None or value == "":
        return None
    try:
        if len(value) > 64:
            raise ValueError
        parsed = datetime.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        seconds = parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        raise web.HTTPBadRequest(text=f"{name}: not an ISO 8601 time such as "
                                      f"2024-05-01T12:00:00Z\n") from None
    if not 0 <= seconds <= _LATEST:
        raise web.HTTPBadRequest(text=f"{name}: out of range\n")
    return seconds


def parse_duration(value: str | None, limit: float) -> float:
    if value is None or value == "":
        return min(DEFAULT_CLIP_SECONDS, limit)
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise web.HTTPBadRequest(text="duration: must be a number of seconds above 0\n")
    if seconds > limit:
        raise web.HTTPBadRequest(text=f"duration: at most {limit:g} s per clip "
                                      f"(clip_max_seconds)\n")
    return seconds


def clip_url(camera: str, start: float, duration: float) -> str:
    query = urllib.parse.urlencode({"start": iso(start), "duration": f"{duration:.3f}"})
    return f"/api/recordings/{urllib.parse.quote(camera)}/clip.mp4?{query}"


def add_routes(app: web.Application, manager: RecordingManager,
               authorize: Authorize = allow_all) -> None:
    errors = RateLimitedLog(log, interval=60)

    def camera_of(request: web.Request) -> str:
        camera = request.match_info["id"]
        if not valid_camera_id(camera):
            raise web.HTTPBadRequest(text="bad camera id\n")
        return camera

    async def page(request: web.Request) -> web.FileResponse:
        await authorize(request, "playback", None)
        return web.FileResponse(ROOT / "recordings.html", headers={"Cache-Control": "no-cache"})

    async def cameras(request: web.Request) -> web.Response:
        await authorize(request, "playback", None)
        found = []
        for camera in sorted(set(manager.index.cameras()) | set(manager.recorders)):
            try:
                await authorize(request, "playback", camera)
            except web.HTTPForbidden:
                continue
            status = manager.camera_status(camera)
            if status["bytes"] or status["state"] != "off":
                found.append({"id": camera, "bytes": status["bytes"], "oldest": status["oldest"],
                              "newest": status["newest"], "state": status["state"],
                              "mode": status["mode"]})
        return web.json_response({"cameras": found}, headers={"Cache-Control": "no-store"})

    async def listing(request: web.Request) -> web.Response:
        camera = camera_of(request)
        await authorize(request, "playback", camera)
        start = parse_time(request.query.get("start"), "start")
        end = parse_time(request.query.get("end"), "end")
        start = 0.0 if start is None else start
        end = _LATEST if end is None else end
        if end <= start:
            raise web.HTTPBadRequest(text="end: must be after start\n")
        if camera not in manager.recorders and not manager.index.entries(camera):
            raise web.HTTPNotFound(text="no recordings for this camera\n")
        limit = manager.settings.clip_max_seconds
        spans = [{"start": iso(s), "duration": round(e - s, 3),
                  "url": clip_url(camera, s, min(e - s, limit))}
                 for s, e in manager.index.spans(camera, start, end)]
        recorder = manager.recorders.get(camera)
        ongoing = recorder.ongoing_event_start if recorder else None
        events = [{"start": iso(e.start),
                   "duration": (None if e.duration is None and e.start == ongoing
                                else round(e.duration or 0.0, 3)),
                   "score": round(e.score, 4)}
                  for e in manager.index.events(camera, start, end)]
        return web.json_response({"camera": camera, "spans": spans, "events": events,
                                  "state": manager.camera_status(camera)["state"]},
                                 headers={"Cache-Control": "no-store"})

    async def clip(request: web.Request) -> web.StreamResponse:
        camera = camera_of(request)
        await authorize(request, "playback", camera)
        start = parse_time(request.query.get("start"), "start")
        if start is None:
            raise web.HTTPBadRequest(text="start: required (ISO 8601)\n")
        duration = parse_duration(request.query.get("duration"),
                                  manager.settings.clip_max_seconds)
        paths = manager.clip_paths(camera, start, duration)
        plan = await asyncio.to_thread(manager.build_clip, paths, start, duration) \
            if paths else None
        if plan is None:
            raise web.HTTPNotFound(text="nothing recorded in that time\n")
        headers = {"Content-Type": "video/mp4", "Accept-Ranges": "bytes", "ETag": plan.etag,
                   "Cache-Control": "no-cache", "X-Clip-Start": iso(plan.start_utc),
                   "X-Clip-Duration": f"{plan.duration:.3f}"}
        if request.query.get("download") == "1":
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(plan.start_utc))
            headers["Content-Disposition"] = f'attachment; filename="{camera}-{stamp}Z.mp4"'
        first, last = 0, plan.size - 1
        status = 200
        wanted = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if wanted and (if_range is None or if_range == plan.etag):
            byte_range = _parse_range(wanted, plan.size)
            if byte_range == "unsatisfiable":
                raise web.HTTPRequestRangeNotSatisfiable(
                    headers={"Content-Range": f"bytes */{plan.size}", "Accept-Ranges": "bytes"})
            if byte_range is not None:
                first, last = byte_range
                status = 206
                headers["Content-Range"] = f"bytes {first}-{last}/{plan.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = last - first + 1
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        try:
            await _send(response, plan, first, last)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except OSError as exc:  # a file deleted or cut under us: the response cannot be fixed
            errors.log(logging.WARNING, "clip", "Clip of camera %s stopped: %s", camera, exc)
            request.transport is not None and request.transport.close()
        return response

    app.router.add_get("/recordings", page, name="recordings-page")
    app.router.add_get("/api/recordings", cameras, name="recordings-cameras")
    # Greedy ids so that an id with a slash (a traversal attempt) reaches the 400 check.
    app.router.add_get("/api/recordings/{id:.+}/clip.mp4", clip, name="recordings-clip")
    app.router.add_get("/api/recordings/{id:.+}", listing, name="recordings-listing")


def _parse_range(header: str, size: int):
    """(first, last) of a single byte range; None to ignore the header (several ranges, another
    unit: the whole file is sent); "unsatisfiable" for a range past the end."""
    match = _RANGE.fullmatch(header.strip())
    if not match or (match[1] == "" and match[2] == ""):
        return None
    if match[1] == "":  # the last N bytes
        length = int(match[2])
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if first >= size:
        return "unsatisfiable"
    if last < first:
        return None
    return first, min(last, size - 1)


async def _send(response: web.StreamResponse, plan: ClipPlan, first: int, last: int) -> None:
    loop = asyncio.get_running_loop()
    files: dict[str, int] = {}
    batch: list[tuple[str, int, int]] = []
    batched = 0

    def read(parts: list[tuple[str, int, int]]) -> bytes:
        out = []
        for path, offset, size in parts:
            fd = files.get(path)
            if fd is None:
                fd = files[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(fd, size, offset)
            if len(data) != size:
                raise OSError(f"{path} is shorter than it was")
            out.append(data)
        return b"".join(out)

    try:
        for part in read_range(plan, first, last):
            if isinstance(part, bytes):
                await response.write(part)
                continue
            batch.append(part)
            batched += part[2]
            if batched >= READ_BATCH:
                await response.write(await loop.run_in_executor(None, read, batch))
                batch, batched = [], 0
        if batch:
            await response.write(await loop.run_in_executor(None, read, batch))
    finally:
        for fd in files.values():
            os.close(fd)
