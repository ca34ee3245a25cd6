"""All camera streams by id, created on first use by a camera or a viewer, pruned when idle."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Callable

from .ingest.stream import CameraStream

log = logging.getLogger(__name__)

CAMERA_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_ID = "default"


class TooManyStreams(RuntimeError):
    pass


def valid_camera_id(camera_id: str) -> bool:
    return CAMERA_ID.fullmatch(camera_id) is not None


class Registry:
    def __init__(self, make_stream: Callable[[str], CameraStream], max_streams: int = 64):
        self._make_stream = make_stream
        self._max_streams = max_streams
        self.streams: dict[str, CameraStream] = {}
        self._camera_arrived = asyncio.Event()

    def get(self, camera_id: str) -> CameraStream | None:
        return self.streams.get(camera_id)

    def get_or_create(self, camera_id: str) -> CameraStream:
        stream = self.streams.get(camera_id)
        if stream is None:
            if len(self.streams) >= self._max_streams:
                raise TooManyStreams(f"already {len(self.streams)} streams (--max-streams)")
            stream = self.streams[camera_id] = self._make_stream(camera_id)
        return stream

    def camera_connected(self) -> None:
        """Wake viewers that asked for "any camera" (see :meth:`wait_for_any`)."""
        self._camera_arrived.set()
        self._camera_arrived = asyncio.Event()

    def first(self) -> CameraStream | None:
        """The camera a viewer gets when it names none: the first online, else the first seen."""
        for stream in self.streams.values():
            if stream.camera is not None:
                return stream
        for stream in self.streams.values():
            if stream.frames_in:
                return stream
        return None

    async def wait_for_any(self) -> CameraStream:
        while (stream := self.first()) is None:
            await self._camera_arrived.wait()
        return stream

    async def prune(self, idle_seconds: float) -> None:
        """Forget streams that have had neither camera nor viewer for ``idle_seconds``."""
        now = time.monotonic()
        for camera_id, stream in list(self.streams.items()):
            if stream.idle_for(now) > idle_seconds:
                del self.streams[camera_id]
                log.info("%s: idle for %g s; forgotten", stream.name, idle_seconds)
                await stream.shutdown()

    async def shutdown(self) -> None:
        await asyncio.gather(*(s.shutdown() for s in self.streams.values()))
