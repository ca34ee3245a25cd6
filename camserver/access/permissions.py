"""Permissions: what a principal may do, as written in the config file.

A permission is ``action`` or ``action:camera-pattern``: ``read:*``, ``control:desk``,
``playback:garden-*``, ``status``. The pattern is a shell-style glob over camera ids
(``fnmatch``, case-sensitive, like the ids); no pattern means every camera. Actions:

- ``publish``: a camera connects as that id;
- ``read``: live video (pages, viewer WebSocket, stream URLs, snapshots);
- ``control``: the camera settings API;
- ``playback``: recordings;
- ``status``, ``metrics``: ``/status`` and ``/metrics`` (no camera part).

Pure: parsing and matching only, no I/O. The one question every door asks is
:meth:`Grants.allows`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

ACTIONS = ("publish", "read", "control", "playback", "status", "metrics")
CAMERA_ACTIONS = ("publish", "read", "control", "playback")
_PATTERN = re.compile(r"[A-Za-z0-9_*?\[\]!-]{1,64}")


@dataclass(frozen=True)
class Permission:
    action: str
    pattern: str = "*"

    @classmethod
    def parse(cls, text: object) -> "Permission":
        """``"read:desk"`` -> Permission("read", "desk"); ValueError says what is wrong."""
        if not isinstance(text, str):
            raise ValueError(f"a permission must be a string like \"read:*\", not {text!r}")
        action, _, pattern = text.partition(":")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} in {text!r} (one of "
                             f"{', '.join(ACTIONS)})")
        if not pattern:
            return cls(action)
        if action not in CAMERA_ACTIONS:
            raise ValueError(f"{action!r} takes no camera pattern ({text!r})")
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"bad camera pattern {pattern!r} in {text!r} (camera ids are "
                             "A-Z a-z 0-9 _ -, with * ? [ ] as wildcards)")
        return cls(action, pattern)

    def matches(self, action: str, camera: str | None) -> bool:
        if action != self.action:
            return False
        if camera is None:  # "may this principal do ACTION on some camera?"
            return True
        return fnmatch.fnmatchcase(camera, self.pattern)


@dataclass(frozen=True)
class Grants:
    permissions: tuple[Permission, ...] = ()

    @classmethod
    def parse(cls, items: object, where: str = "allow") -> "Grants":
        if not isinstance(items, list):
            raise ValueError(f"{where}: must be a list of permissions, like [\"read:*\"]")
        try:
            return cls(tuple(Permission.parse(item) for item in items))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    @classmethod
    def of(cls, *texts: str) -> "Grants":
        return cls(tuple(Permission.parse(text) for text in texts))

    def allows(self, action: str, camera: str | None = None) -> bool:
        """May ``action`` be done on ``camera`` (None: on at least one camera, or an action
        with no camera part)?"""
        return any(p.matches(action, camera) for p in self.permissions)

    def actions_on(self, camera: str) -> list[str]:
        """The camera actions allowed on ``camera``, in :data:`CAMERA_ACTIONS` order."""
        return [a for a in CAMERA_ACTIONS if self.allows(a, camera)]

    def __or__(self, other: "Grants") -> "Grants":
        return Grants(self.permissions + other.permissions)
