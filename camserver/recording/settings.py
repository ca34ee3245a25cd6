"""Recording settings from TOML-shaped tables: ``[recording]`` and ``[camera.<id>]``.

Pure: dicts in (as :mod:`tomllib` gives them), frozen dataclasses out, or a :class:`ValueError`
that names the offending key the way a user wrote it (``camera.desk.keep: must look like 7d, 12h
or 30m``).

- ``[recording]`` (:class:`RecordingSettings`): the whole server. ``record_dir`` (default
  ``recordings``), ``max_bytes`` (``"20G"``, over all cameras), ``min_free_bytes`` (default
  ``"1G"``), ``clip_max_seconds`` (default 3600). Any other key is an error.
- ``[camera.<id>]`` (:class:`CameraRecording`): ``record`` (``off``, ``continuous``, ``motion``),
  ``segment_seconds``, ``keep`` (``"7d"``), ``motion_sensitivity`` (0-1), ``motion_masks``
  (``[[x, y, w, h], ...]`` as fractions of the frame), ``pre_seconds``, ``post_seconds``. A camera
  table also holds other features' keys (access control), so only :data:`CAMERA_KEYS` are read
  here; checking for unknown keys is the config file loader's job.
- ``[camera."*"]`` applies to every camera; ``[camera."<id>"]`` overrides it key by key.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

RECORD_MODES = ("off", "continuous", "motion")
ALL_CAMERAS = "*"

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*")
_SIZE_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw])\s*")
_DURATION_SCALE = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(value: Any, where: str) -> int:
    """``"20G"``, ``"512M"``, ``"1.5G"`` or a plain number of bytes (1K = 1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{where}: must look like 20G, 500M or 1048576 (bytes), not {value!r}")
    return int(float(match[1]) * _SIZE_SCALE[match[2].lower()])


def parse_duration(value: Any, where: str) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"`` -> seconds."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{where}: must look like 7d, 12h or 30m, not {value!r}")
    return float(match[1]) * _DURATION_SCALE[match[2]]


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a number from {low:g} to {high:g}, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{where}: must be from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _masks(value: Any, where: str) -> tuple[tuple[float, float, float, float], ...]:
    shape = f"{where}: must be a list of [x, y, w, h] rectangles, fractions of the frame (0-1)"
    if not isinstance(value, list):
        raise ValueError(f"{shape}, not {value!r}")
    masks = []
    for n, rect in enumerate(value):
        if not (isinstance(rect, list) and len(rect) == 4):
            raise ValueError(f"{shape}; rectangle {n + 1} is {rect!r}")
        x, y, w, h = (_number(v, f"{where}[{n}]", 0, 1) for v in rect)
        if w <= 0 or h <= 0 or x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
            raise ValueError(f"{where}[{n}]: [x, y, w, h] must have w, h > 0 and stay inside "
                             f"the frame (x + w <= 1, y + h <= 1), not {rect!r}")
        masks.append((x, y, w, h))
    return tuple(masks)


def table_name(camera_id: str) -> str:
    """How a user writes the camera's table in TOML: ``camera.desk``, ``camera."*"``."""
    bare = re.fullmatch(r"[A-Za-z0-9_-]+", camera_id)
    return f"camera.{camera_id}" if bare else f'camera."{camera_id}"'


def _require_table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a table, not {value!r}")
    return value


@dataclass(frozen=True)
class RecordingSettings:
    """The ``[recording]`` table: where files go and the limits over all cameras."""

    record_dir: str = "recordings"
    #: Most bytes all recordings may take; None: no limit (only ``min_free_bytes``).
    max_bytes: int | None = None
    #: Oldest recordings are deleted while the file system has less free space than this.
    min_free_bytes: int = 1 << 30
    #: Longest clip the clip API builds.
    clip_max_seconds: float = 3600.0

    KEYS = ("record_dir", "max_bytes", "min_free_bytes", "clip_max_seconds")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "recording") -> "RecordingSettings":
        table = _require_table(table, where)
        for key in table:
            if key not in cls.KEYS:
                raise ValueError(f"{where}.{key}: unknown setting (known: {', '.join(cls.KEYS)})")
        values: dict[str, Any] = {}
        if "record_dir" in table:
            if not isinstance(table["record_dir"], str) or not table["record_dir"].strip():
                raise ValueError(f"{where}.record_dir: must be a directory path, not "
                                 f"{table['record_dir']!r}")
            values["record_dir"] = table["record_dir"]
        if "max_bytes" in table:
            values["max_bytes"] = parse_size(table["max_bytes"], f"{where}.max_bytes")
        if "min_free_bytes" in table:
            values["min_free_bytes"] = parse_size(table["min_free_bytes"],
                                                  f"{where}.min_free_bytes")
        if "clip_max_seconds" in table:
            values["clip_max_seconds"] = _number(table["clip_max_seconds"],
                                                 f"{where}.clip_max_seconds", 1, 7 * 86400)
        return cls(**values)


@dataclass(frozen=True)
class CameraRecording:
    """One camera's recording settings (its ``[camera.<id>]`` keys over ``[camera."*"]``)."""

    record: str = "off"
    #: A new file starts at the first keyframe this long after the current file began.
    segment_seconds: float = 60.0
    #: Segments older than this are deleted (seconds); None: kept until space runs out.
    keep: float | None = None
    #: 0: only large changes count as motion; 1: the smallest change does.
    motion_sensitivity: float = 0.5
    #: Rectangles (x, y, w, h, fractions of the frame) where changes are ignored.
    motion_masks: tuple[tuple[float, float, float, float], ...] = field(default=())
    #: Motion mode: recording starts at the keyframe at least this long before the motion.
    pre_seconds: float = 5.0
    #: Motion mode: recording stops this long after the last motion.
    post_seconds: float = 10.0

    KEYS = ("record", "segment_seconds", "keep", "motion_sensitivity", "motion_masks",
            "pre_seconds", "post_seconds")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> "CameraRecording":
        """Read the recording keys of one camera table (other keys are left alone)."""
        table = _require_table(table, where)
        values: dict[str, Any] = {}
        if "record" in table:
            if table["record"] not in RECORD_MODES:
                raise ValueError(f"{where}.record: must be one of {', '.join(RECORD_MODES)}, "
                                 f"not {table['record']!r}")
            values["record"] = table["record"]
        if "segment_seconds" in table:
            values["segment_seconds"] = _number(table["segment_seconds"],
                                                f"{where}.segment_seconds", 1, 86400)
        if "keep" in table:
            values["keep"] = parse_duration(table["keep"], f"{where}.keep")
        if "motion_sensitivity" in table:
            values["motion_sensitivity"] = _number(table["motion_sensitivity"],
                                                   f"{where}.motion_sensitivity", 0, 1)
        if "motion_masks" in table:
            values["motion_masks"] = _masks(table["motion_masks"], f"{where}.motion_masks")
        if "pre_seconds" in table:
            values["pre_seconds"] = _number(table["pre_seconds"], f"{where}.pre_seconds", 0, 60)
        if "post_seconds" in table:
            values["post_seconds"] = _number(table["post_seconds"], f"{where}.post_seconds",
                                             0, 3600)
        return cls(**values)


@dataclass(frozen=True)
class RecordingConfig:
    """Everything recording needs: the server-wide table and each camera's settings."""

    recording: RecordingSettings = RecordingSettings()
    #: The recording keys of each ``[camera.<id>]`` table as written (``"*"`` included).
    camera_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_camera(self, camera_id: str) -> CameraRecording:
        merged = {**self.camera_tables.get(ALL_CAMERAS, {}),
                  **self.camera_tables.get(camera_id, {})}
        return CameraRecording.from_table(merged, table_name(camera_id))

    @property
    def any_recording(self) -> bool:
        """Whether some camera may record (else no recorder is attached at all)."""
        return any(t.get("record", "off") != "off" for t in self.camera_tables.values())


def parse_config(document: Mapping[str, Any], *, record_all: bool = False,
                 record_dir: str | None = None) -> RecordingConfig:
    """The recording part of a whole config document (``{"recording": {...}, "camera": {...}}``).

    ``record_all`` is ``--record`` (= ``[camera."*"] record = "continuous"``) and ``record_dir``
    is ``--record-dir``; flags win over the file. Every camera table is checked now, so a
    mistake stops the server at start-up rather than when that camera connects.
    """
    recording = RecordingSettings.from_table(document.get("recording", {}), "recording")
    if record_dir:
        recording = dataclasses.replace(recording, record_dir=record_dir)
    cameras = _require_table(document.get("camera", {}), "camera")
    tables: dict[str, dict[str, Any]] = {}
    for camera_id, table in cameras.items():
        table = _require_table(table, table_name(camera_id))
        tables[camera_id] = {k: v for k, v in table.items() if k in CameraRecording.KEYS}
    if record_all:
        tables[ALL_CAMERAS] = {**tables.get(ALL_CAMERAS, {}), "record": "continuous"}
    config = RecordingConfig(recording, tables)
    config.for_camera(ALL_CAMERAS)
    for camera_id in tables:
        config.for_camera(camera_id)
    return config


CAMERA_KEYS = CameraRecording.KEYS
