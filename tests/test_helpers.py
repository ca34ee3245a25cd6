"""The tests' own tools: the decode check must judge the stream, not its own output's clock."""

from camserver.ingest.packager import Packager
from helpers import decode_errors, probe_frames
from media_fixtures import encode_flv, video_tags


def test_decode_check_keeps_frames_that_arrived_in_one_33ms_slot_apart():
    """A late frame followed at once by the next (as on a busy machine: the 60 s end-to-end test
    saw 2.7 ms between two frames) is a valid stream; ffmpeg's ``-f null`` output at its default
    time base of 1/30 s put such frames on one DTS and reported "non monotonically increasing
    dts" (issue 13's flake). Here two frames are 1 tick of 90 kHz apart, on both sides of the
    middle of a 1/30 s slot."""
    config, tags = video_tags(encode_flv())
    pts = [i * 3000 for i in range(len(tags))]           # 30 fps in 90 kHz ticks
    pts[20], pts[21] = 21 * 3000 - 1500, 21 * 3000 - 1499  # 1 tick apart, both round to slot 21
    packager = Packager()
    packager.set_config(config)
    stream = b"".join(packager.package(tag.data, tag.keyframe, t).ts
                      for tag, t in zip(tags, pts))
    decoded = [round(float(f["pts_time"]) * 90000) for f in probe_frames(stream)]
    assert [t - decoded[0] for t in decoded] == pts  # the stream itself keeps them apart
    assert decode_errors(stream) == ""
