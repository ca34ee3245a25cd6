"""The server's parts, made once at start by :mod:`camserver.app` and handed to the doors.

Every door (camera WebSocket, viewer WebSocket, HTTP) gets this one object instead of a growing
list of arguments; nothing in it is created anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .access.gate import Gate
from .access.sessions import SessionStore
from .config import Settings
from .ingest.camera import CameraEndpoint
from .loopwatch import LoopMonitor
from .outputs.audience import Audience
from .outputs.viewer import ViewerEndpoint
from .recording.manager import RecordingManager
from .registry import Registry

if TYPE_CHECKING:
    from .outputs.hls import HlsManager
    from .outputs.restream import RestreamManager


@dataclass
class Services:
    settings: Settings
    registry: Registry
    cameras: CameraEndpoint
    audience: Audience
    loop_monitor: LoopMonitor
    encoder_name: str
    gate: Gate
    sessions: SessionStore
    viewers: ViewerEndpoint
    recordings: RecordingManager | None = None
    #: The HTTP port speaks https.
    tls: bool = False
    restreams: "RestreamManager | None" = None
    hls: "HlsManager | None" = None

    def server_status(self) -> dict:
        """Whole-server figures for /status and /metrics: load, limits, refusals."""
        return {**self.audience.status(), **self.loop_monitor.status(),
                "waiting_camera_ids": self.registry.waiting_ids}
