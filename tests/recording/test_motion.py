"""The motion detector on real JPEGs from the mock camera's renderer."""

import io

import pytest
from PIL import Image, ImageDraw

from camserver.recording.motion import MotionDetector
from mock_camera import FrameRenderer


def jpeg(draw=None, size=(640, 480), colour=(90, 120, 150), quality=80):
    image = Image.new("RGB", size, colour)
    if draw:
        draw(ImageDraw.Draw(image))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def box_at(x, y, w=120, h=120):
    return lambda d: d.rectangle((x, y, x + w, y + h), fill=(250, 250, 250))


def test_a_still_picture_is_no_motion():
    detector = MotionDetector(0.9)
    picture = jpeg(box_at(100, 100))
    assert detector.score(picture) is None  # learning the background
    for _ in range(20):
        score = detector.score(picture)
        assert score == 0.0 and not detector.is_motion(score)


def test_a_moving_object_is_motion():
    detector = MotionDetector(0.5)
    detector.score(jpeg(box_at(0, 0)))
    score = detector.score(jpeg(box_at(300, 200)))
    assert detector.is_motion(score), score
    # The mock camera's moving scene (a ball and a square over a slowly scrolling gradient).
    renderer = FrameRenderer(640, 480)
    detector = MotionDetector(0.8)
    detector.score(renderer.render(0, 0, 30))
    assert detector.is_motion(detector.score(renderer.render(10, 0.3, 30)))


def test_sensitivity_sets_how_small_a_change_counts():
    small_change = [jpeg(box_at(300, 200, 20, 20)), jpeg(box_at(330, 200, 20, 20))]
    for sensitivity, expected in ((1.0, True), (0.0, False)):
        detector = MotionDetector(sensitivity)
        detector.score(small_change[0])
        assert detector.is_motion(detector.score(small_change[1])) is expected


def test_masked_areas_are_ignored():
    # Motion only in the left half; a mask over the left half hides it.
    frames = [jpeg(box_at(40, 100)), jpeg(box_at(150, 300))]
    masked = MotionDetector(1.0, masks=[(0, 0, 0.5, 1)])
    unmasked = MotionDetector(1.0)
    for d in (masked, unmasked):
        d.score(frames[0])
    assert masked.score(frames[1]) == 0.0
    assert unmasked.is_motion(unmasked.score(frames[1]))
    # A mask over everything counts nothing; a sub-pixel mask is harmless.
    everything = MotionDetector(1.0, masks=[(0, 0, 1, 1), (0.5, 0.5, 0.001, 0.001)])
    everything.score(frames[0])
    assert everything.score(frames[1]) == 0.0


def test_slow_changes_blend_into_the_background():
    detector = MotionDetector(0.5)
    detector.score(jpeg(colour=(100, 100, 100)))
    scores = [detector.score(jpeg(colour=(100 + n, 100 + n, 100 + n))) for n in range(1, 40)]
    assert not any(detector.is_motion(s) for s in scores)


def test_a_new_size_starts_learning_again_and_bad_jpegs_raise():
    detector = MotionDetector()
    detector.score(jpeg())
    assert detector.score(jpeg(size=(320, 240))) is None
    with pytest.raises(OSError):
        detector.score(b"\xff\xd8 not really a jpeg")


def test_mock_camera_still_mode_sends_the_same_picture_every_frame():
    from mock_camera import StillRenderer
    still = StillRenderer(FrameRenderer(320, 240))
    frames = [still.render(n, n / 30, 30.0) for n in range(10)]
    assert len(set(frames)) == 1 and (still.width, still.height) == (320, 240)
    detector = MotionDetector(1.0)
    scores = [detector.score(f) for f in frames]
    assert scores[0] is None and set(scores[1:]) == {0.0}
