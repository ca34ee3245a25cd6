"""Which recordings to delete, oldest first. Pure: the manager gathers the facts and deletes.

Three rules, applied in this order; a segment still being written is never deleted:

1. ``keep`` (per camera): a segment that ended more than ``keep`` ago goes.
2. ``max_bytes`` (all cameras together): while recordings take more, the oldest goes, whatever
   its camera.
3. ``min_free_bytes``: while the file system has less free space, the oldest goes. If nothing is
   left to delete and space is still short, :attr:`Plan.short_of_space` tells the recorders to
   pause (one log line), so the server never fills the disk itself; they resume once the space
   is back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable


@dataclass(frozen=True)
class Stored:
    """A segment on disk, as the index knows it."""

    camera: str
    path: str
    #: UTC of its first frame and just past its last.
    start: float
    end: float
    size: int
    #: Being written now: never deleted.
    live: bool = False


@dataclass(frozen=True)
class Deletion:
    segment: Stored
    #: Which rule, for the log: "keep", "max_bytes" or "min_free_bytes".
    rule: str


@dataclass
class Plan:
    deletions: list[Deletion] = field(default_factory=list)
    #: Free space is under ``min_free_bytes`` even after the deletions.
    short_of_space: bool = False


def plan(segments: Iterable[Stored], *, now: float, keep: Callable[[str], float | None],
         max_bytes: int | None, free_bytes: int | None, min_free_bytes: int) -> Plan:
    """What to delete. ``keep(camera)`` gives a camera's ``keep`` in seconds (None: no limit);
    ``free_bytes`` is the file system's free space (None: unknown, rule 3 is skipped)."""
    result = Plan()
    oldest_first = sorted(segments, key=lambda s: (s.start, s.path))
    remaining: list[Stored] = []
    for segment in oldest_first:
        limit = keep(segment.camera)
        if not segment.live and limit is not None and segment.end < now - limit:
            result.deletions.append(Deletion(segment, "keep"))
        else:
            remaining.append(segment)
    total = sum(s.size for s in remaining)
    freed = sum(d.segment.size for d in result.deletions)
    deletable = [s for s in remaining if not s.live]
    index = 0
    if max_bytes is not None:
        while total > max_bytes and index < len(deletable):
            segment = deletable[index]
            index += 1
            result.deletions.append(Deletion(segment, "max_bytes"))
            total -= segment.size
            freed += segment.size
    if free_bytes is not None:
        while free_bytes + freed < min_free_bytes and index < len(deletable):
            segment = deletable[index]
            index += 1
            result.deletions.append(Deletion(segment, "min_free_bytes"))
            freed += segment.size
        result.short_of_space = free_bytes + freed < min_free_bytes
    return result
