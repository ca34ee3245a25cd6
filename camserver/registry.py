"""All camera streams by id: created by cameras only, waited for by viewers, pruned when idle.

Only a camera creates a stream (:meth:`Registry.get_or_create`), up to ``max_streams``. A viewer
of a camera that is not there yet waits for it (:meth:`Registry.wait_for`) without creating
anything: it holds one of at most ``max_waiting_ids`` waiting slots (one per distinct camera id
waited for), which are apart from the streams, so viewers of made-up ids can never use up the
room real cameras need. Once cameras are declared in the config file (``[camera.<id>]``),
viewers of undeclared ids that are not online are refused outright (:meth:`Registry.may_exist`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Callable, Iterable

from .ingest.stream import CameraStream

log = logging.getLogger(__name__)

CAMERA_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_ID = "default"
#: The waiting slot of viewers that named no camera (they take the first one).
ANY_CAMERA = ""


class TooManyStreams(RuntimeError):
    pass


class TooManyWaiting(RuntimeError):
    pass


def valid_camera_id(camera_id: str) -> bool:
    return CAMERA_ID.fullmatch(camera_id) is not None


class _WaitingSlot:
    __slots__ = ("event", "viewers")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.viewers = 0


class Registry:
    def __init__(self, make_stream: Callable[[str], CameraStream], max_streams: int = 64,
                 max_waiting_ids: int = 64, declared: Iterable[str] = ()):
        self._make_stream = make_stream
        #: Camera ids of the config file's [camera.<id>] tables ("*" is not an id).
        self.declared = frozenset(declared) - {"*"}
        self._max_streams = max_streams
        self._max_waiting_ids = max_waiting_ids
        self.streams: dict[str, CameraStream] = {}
        self._waiting: dict[str, _WaitingSlot] = {}
        #: Called with each new stream (outputs that attach consumers, e.g. the recorder).
        self.on_new_stream: list[Callable[[CameraStream], None]] = []

    def get(self, camera_id: str) -> CameraStream | None:
        return self.streams.get(camera_id)

    def get_or_create(self, camera_id: str) -> CameraStream:
        """The stream of a connecting camera; TooManyStreams when ``max_streams`` are in use."""
        stream = self.streams.get(camera_id)
        if stream is None:
            if len(self.streams) >= self._max_streams:
                raise TooManyStreams(f"already {len(self.streams)} streams (--max-streams)")
            stream = self.streams[camera_id] = self._make_stream(camera_id)
            for hook in self.on_new_stream:
                hook(stream)
        return stream

    def camera_connected(self, stream: CameraStream) -> None:
        """Wake the viewers waiting for this camera, and those waiting for any camera."""
        for key in (stream.id, ANY_CAMERA):
            if (slot := self._waiting.get(key)) is not None:
                slot.event.set()

    def may_exist(self, camera_id: str) -> bool:
        """Whether a viewer may wait for ``camera_id``: it is here, declared, or nothing is."""
        return not self.declared or camera_id in self.declared or camera_id in self.streams

    def first(self, wanted: Callable[[CameraStream], bool] = lambda s: True
              ) -> CameraStream | None:
        """The camera a viewer gets when it names none: the first online (of those ``wanted``),
        else the first seen."""
        for stream in self.streams.values():
            if stream.camera is not None and wanted(stream):
                return stream
        for stream in self.streams.values():
            if stream.frames_in and wanted(stream):
                return stream
        return None

    async def wait_for(self, camera_id: str | None,
                       wanted: Callable[[CameraStream], bool] = lambda s: True) -> CameraStream:
        """The stream of ``camera_id`` (None: the first camera ``wanted``), waiting until its
        camera connects. TooManyWaiting when ``max_waiting_ids`` other ids are already waited
        for."""
        key = camera_id or ANY_CAMERA

        def lookup():
            return self.first(wanted) if key == ANY_CAMERA else self.streams.get(key)

        if (stream := lookup()) is not None:
            return stream
        slot = self._waiting.get(key)
        if slot is None:
            if len(self._waiting) >= self._max_waiting_ids:
                raise TooManyWaiting(f"already waiting for {len(self._waiting)} cameras that "
                                     "are not connected")
            slot = self._waiting[key] = _WaitingSlot()
        slot.viewers += 1
        try:
            while (stream := lookup()) is None:
                if slot.event.is_set():  # woken, but the stream went again: wait anew
                    slot.event = asyncio.Event()
                await slot.event.wait()
            return stream
        finally:
            slot.viewers -= 1
            if slot.viewers == 0 and self._waiting.get(key) is slot:
                del self._waiting[key]

    @property
    def waiting_ids(self) -> int:
        return len(self._waiting)

    async def prune(self, idle_seconds: float) -> None:
        """Forget streams that have had neither camera nor viewer for ``idle_seconds``."""
        now = time.monotonic()
        for camera_id, stream in list(self.streams.items()):
            if stream.idle_for(now) > idle_seconds:
                del self.streams[camera_id]
                log.info("%s: idle for %g s; forgotten", stream.name, idle_seconds)
                await stream.shutdown()

    async def shutdown(self, timeout: float | None = None) -> None:
        await asyncio.gather(*(s.shutdown(timeout) for s in self.streams.values()))
