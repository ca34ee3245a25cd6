"""One camera's file writer: a thread that creates, appends to and closes segment files.

The recorder runs on the event loop and must never wait for a disk, so everything that touches
the file system for a camera goes through this thread's queue: ``open`` (create the next free
name, write the header), ``append`` (one fragment), ``close``, ``event`` (a line of the motion
event log). Results come back on the loop through ``report(kind, *args)``, called with
``loop.call_soon_threadsafe``:

- ``("opened", token, path)``, ``("wrote", token, path, size, meta)`` (``meta`` as given to
  ``append``), ``("closed", token, path, removed)`` (``removed``: it held no frame and was
  deleted)
- ``("failed", token, path or None, OSError, removed)``: the file is given up (what is on disk
  stays playable, a fragment cut short by the error is trimmed off; a file with no frame yet is
  deleted: ``removed``); ops for it are ignored.

Bounds: at most :data:`MAX_QUEUED_BYTES` of fragments wait; :meth:`submit` refuses more (the
recorder then drops video up to the next keyframe and starts a new file), so a slow or hung disk
costs memory of a few seconds of video, never more.

Durability: every fragment is written with one ``write`` (so a killed process leaves whole
fragments, see :mod:`segment`) and then ``fdatasync``-ed, so a power cut loses at most the
fragment being written (0.5 s) and what waits in the queue. A new file's directory entry is
fsync-ed once. On a Raspberry Pi's SD card that is two small syncs a second per camera, on
this thread, never on the event loop.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Callable

from . import naming

log = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 8 * 1024 * 1024
#: After the disk was full, a new file is only tried once this much space is free again, so a
#: few bytes freed (the cut-off fragment trimmed) do not make recording flap on and off.
RESUME_FREE_BYTES = 4 * 1024 * 1024
_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Test hook, for machines where a size-limited file system cannot be mounted: while the file
#: named by this environment variable exists, writes fail with ENOSPC ("disk full").
FAULT_FILE_VARIABLE = "CAMSERVER_RECORDING_ENOSPC_FILE"


class SegmentWriter:
    def __init__(self, name: str, camera_dir: Path, report: Callable[..., None],
                 offset_at: naming.OffsetAt = naming.system_offset):
        self.name = name
        self._dir = camera_dir
        self._report = report
        self._offset_at = offset_at
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0
        self._fault_file = os.environ.get(FAULT_FILE_VARIABLE)
        self._thread = threading.Thread(target=self._run, name=f"writer {name}", daemon=True)
        self._thread.start()
        # Thread-side state.
        self._token: int | None = None
        self._fd: int | None = None
        self._path: str | None = None
        self._size = 0
        self._fragments = 0
        self._was_full = False

    @property
    def queued_bytes(self) -> int:
        return self._queued

    def submit(self, op: tuple, size: int = 0, force: bool = False) -> bool:
        """Queue ``op``; False (and nothing queued) if ``size`` more bytes would pass the bound
        and ``force`` is not set."""
        with self._lock:
            if not force and self._queued + size > MAX_QUEUED_BYTES:
                return False
            self._queued += size
        self._queue.put((op, size))
        return True

    def request_stop(self) -> None:
        """Finish what is queued, close the file, then end the thread."""
        self._queue.put((("stop",), 0))

    def join(self, timeout: float) -> bool:
        """Wait (from a thread, not the loop) for the thread to end; whether it did in time.
        A thread stuck on a hung disk is a daemon: it does not keep the process alive."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        set_thread_name("rec:" + self._dir.name)
        while True:
            op, size = self._queue.get()
            with self._lock:
                self._queued -= size
            kind = op[0]
            try:
                if kind == "stop":
                    self._close()
                    return
                if kind == "open":
                    self._open(*op[1:])
                elif kind == "append":
                    self._append(*op[1:])
                elif kind == "close":
                    if op[1] == self._token:
                        self._close()
                elif kind == "event":
                    self._event(*op[1:])
            except Exception as exc:  # never let the thread die: the camera would stop recording
                log.exception("%s: recording writer: unexpected %r", self.name, exc)

    def _fault(self) -> None:
        if self._fault_file and os.path.exists(self._fault_file):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _open(self, token: int, start_utc: float, header: bytes) -> None:
        self._close()
        self._token = token
        path = None
        try:
            self._fault()
            if self._was_full:
                if _free_bytes(self._dir) < RESUME_FREE_BYTES:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                self._was_full = False
            first = next(naming.candidates(start_utc, self._offset_at))
            day_dir = self._dir / first.split("/")[0]
            new_dirs = [d for d in (self._dir.parent, self._dir, day_dir) if not d.is_dir()]
            day_dir.mkdir(parents=True, exist_ok=True)
            for name in naming.candidates(start_utc, self._offset_at):
                path = str(self._dir / name)
                try:
                    self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                       0o644)
                    break
                except FileExistsError:
                    continue
            self._path, self._size, self._fragments = path, 0, 0
            self._write(header)
            os.fdatasync(self._fd)
            # The file's name (and new directories' names) must survive a power cut too.
            for directory in [day_dir] + [d.parent for d in new_dirs]:
                self._sync_dir(directory)
        except OSError as exc:
            self._fail(path, exc)
            return
        self._post("opened", token, path)

    def _append(self, token: int, data: bytes, meta=None) -> None:
        if token != self._token or self._fd is None:
            return  # a file given up after an error: its remaining fragments go nowhere
        try:
            self._write(data)
            os.fdatasync(self._fd)
        except OSError as exc:
            self._fail(self._path, exc)
            return
        self._fragments += 1
        self._post("wrote", token, self._path, self._size, meta)

    def _write(self, data: bytes) -> None:
        self._fault()
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            # A fragment cut short would sit between the good ones and the next; trim it.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise
        self._size += len(data)

    def _close(self) -> None:
        if self._fd is None:
            self._token = None
            return
        fd, path, token = self._fd, self._path, self._token
        self._fd = self._path = self._token = None
        try:
            os.close(fd)
        except OSError:
            pass
        removed = False
        if not self._fragments:  # a header and no frame: nothing to play, nothing to keep
            try:
                os.unlink(path)
                removed = True
            except OSError:
                pass
        self._post("closed", token, path, removed)

    def _fail(self, path: str | None, exc: OSError) -> None:
        token = self._token
        self._was_full = exc.errno in _FULL
        removed = False
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            if not self._fragments and path is not None:  # only a header: nothing to play
                try:
                    os.unlink(path)
                    removed = True
                except OSError:
                    pass
        self._fd = None
        self._token = None
        self._post("failed", token, path, exc, removed)

    def _event(self, path: str, line: str) -> None:
        try:
            self._fault()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            self._post("failed", None, path, exc, False)

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _post(self, *args) -> None:
        try:
            self._report(*args)
        except RuntimeError:
            pass  # the event loop is gone (shutting down): nobody is listening any more


def _free_bytes(directory: Path) -> int:
    """Free space where ``directory`` is (or will be: its nearest existing parent)."""
    for candidate in (directory, *directory.parents):
        try:
            st = os.statvfs(candidate)
        except FileNotFoundError:
            continue
        return st.f_bavail * st.f_frsize
    return 0


def set_thread_name(name: str) -> None:
    """Name the calling thread for the OS (``top -H``, ``/proc/<pid>/task/*/comm``; at most 15
    bytes), so a recording thread's CPU can be seen apart from the event loop's."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass
