from camserver.ingest.packager import MIN_AFTER_REPEAT, Packager
from media_fixtures import LIVE_ENCODER_ARGS, encode_flv, video_tags


def packager_with_frames(count: int):
    config, frames = video_tags(encode_flv("320x240", count, LIVE_ENCODER_ARGS))
    packager = Packager()
    assert packager.set_config(config) is not None
    return packager, frames


def test_repeat_needs_a_picture_and_a_later_time():
    packager, frames = packager_with_frames(2)
    assert packager.repeat(100) is None  # nothing shown yet
    first = packager.package(frames[0].data, True, 3000)
    assert packager.repeat(3000) is None  # not after the frame
    repeat = packager.repeat(3180)
    assert repeat is not None and repeat.repeat and not repeat.keyframe
    assert repeat.ts == b""  # MPEG-TS viewers never get repeats
    assert repeat.seq == first.seq + 1 and repeat.pts == 3180


def test_camera_frame_after_a_repeat_keeps_its_distance():
    packager, frames = packager_with_frames(3)
    packager.package(frames[0].data, True, 3000)
    packager.repeat(6000)
    # A JPEG that arrived a moment after the repeat's slot: moved to MIN_AFTER_REPEAT after it,
    # because Chrome drops a frame less than 1 ms after the previous one.
    late = packager.package(frames[1].data, False, 6010)
    assert late.pts == 6000 + MIN_AFTER_REPEAT
    # Without a repeat in between, frames keep their own times.
    assert packager.package(frames[2].data, False, 9000).pts == 9000
