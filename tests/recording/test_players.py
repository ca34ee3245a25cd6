"""A segment file plays on its own in the players people open it with: VLC and ffplay (the
browser is tests/web/test_recordings_page.py), whole, and cut short as a power cut leaves it.

Both players run headless and count the pictures they decode and pass on to display: ffplay
through its ``showinfo`` filter, VLC through its ``scene`` filter, which writes each picture
as a PNG. Both are told not to drop late pictures, so a busy machine makes them slower, not
the count smaller. Two quirks of VLC's count, seen on this machine under load (12 runs: 90,
91 and 89 PNGs of a 90-frame file): its video output shows the last picture again when the
next one is late (identical PNGs, counted once here), and the first picture can pass before
the scene filter is in place (the missing PNG was the first frame's). So VLC's count may be
one short, never more.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import CameraProcess, ServerProcess
from recording_helpers import ANONYMOUS_ALL, read, segment_files, wait_until


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    """Two files of a camera's recording, copied where any user may read them (VLC refuses
    to run as root, so as root it runs as nobody): a whole segment and the same cut at 70%
    of its bytes, inside a fragment."""
    tmp = tmp_path_factory.mktemp("players")
    config = tmp / "rec.toml"
    config.write_text(ANONYMOUS_ALL + '[camera."*"]\nrecord = "continuous"\nsegment_seconds = 2\n')
    record_dir = tmp / "rec"
    server = ServerProcess("--record-dir", str(record_dir), "--config", str(config))
    server.wait_ready()
    camera = CameraProcess(server.camera_url("cam"), "--fps", "30")
    try:
        # The second file is taken: the first may start after the camera's first frames.
        wait_until(lambda: len(segment_files(record_dir, "cam")) >= 3, 40, what="3 files")
    finally:
        camera.stop()
        assert server.stop() == 0, server.log()
    shared = Path(tempfile.mkdtemp(prefix="players-"))
    shared.chmod(0o755)
    whole = shared / "whole.mp4"
    shutil.copyfile(segment_files(record_dir, "cam")[1], whole)
    data = whole.read_bytes()
    cut = shared / "cut.mp4"
    cut.write_bytes(data[:len(data) * 7 // 10])
    for path in (whole, cut):
        path.chmod(0o644)
    yield {"whole": whole, "cut": cut}
    shutil.rmtree(shared, ignore_errors=True)


def whole_fragment_frames(path: Path) -> int:
    """Frames in the file's complete fragments (the server's own reader): what a player must
    show of a cut file."""
    return len(read(path).samples)


def ffplay_frames(path: Path) -> int:
    ffplay = shutil.which("ffplay")
    assert ffplay, "ffplay is required (Debian's ffmpeg package; ./test.sh installs it)"
    out = subprocess.run(
        [ffplay, "-autoexit", "-an", "-sync", "video", "-noframedrop", "-vf", "showinfo",
         "-loglevel", "info", str(path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})
    assert out.returncode == 0, out.stderr[-2000:]
    return sum(1 for line in out.stderr.splitlines() if "Parsed_showinfo" in line and " n:" in line)


def vlc_frames(path: Path) -> int:
    cvlc = shutil.which("cvlc")
    assert cvlc, "VLC is required (apt-get install vlc-bin vlc-plugin-base; ./test.sh installs it)"
    scenes = Path(tempfile.mkdtemp(prefix="vlc-scenes-", dir=path.parent))
    scenes.chmod(0o777)
    as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] \
        if os.geteuid() == 0 else []
    try:
        out = subprocess.run(
            [*as_user, cvlc, "-I", "dummy", "--vout", "dummy", "--no-audio", "--avcodec-hw",
             "none", "--no-drop-late-frames", "--no-skip-frames", "--play-and-exit",
             "--video-filter", "scene", "--scene-path", str(scenes), "--scene-ratio", "1",
             "--scene-prefix", "f", "--scene-format", "png", str(path)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "HOME": str(scenes)})
        assert out.returncode == 0, out.stderr[-2000:]
        return len({hashlib.sha256(png.read_bytes()).digest() for png in scenes.glob("f*.png")})
    finally:
        shutil.rmtree(scenes, ignore_errors=True)


#: Each player, and how many pictures its count may miss (see the module's docstring).
PLAYERS = [pytest.param((ffplay_frames, 0), id="ffplay"), pytest.param((vlc_frames, 1), id="vlc")]


@pytest.mark.parametrize("player", PLAYERS)
def test_a_whole_segment_plays_every_frame(segments, player):
    count, may_miss = player
    frames = whole_fragment_frames(segments["whole"])
    assert frames >= 55  # 2 s at 30 fps, cut at the first keyframe after 2 s
    assert frames - may_miss <= count(segments["whole"]) <= frames


@pytest.mark.parametrize("player", PLAYERS)
def test_a_segment_cut_short_plays_up_to_the_cut(segments, player):
    count, may_miss = player
    whole = whole_fragment_frames(segments["whole"])
    kept = whole_fragment_frames(segments["cut"])
    assert 0 < kept < whole
    # Every frame of the whole fragments; of the fragment cut in two, perhaps what is there.
    assert kept - may_miss <= count(segments["cut"]) < whole
