import pytest

from camserver.recording.settings import (CameraRecording, RecordingConfig, RecordingSettings,
                                          parse_config, parse_duration, parse_size)


def test_defaults():
    assert RecordingSettings.from_table({}) == RecordingSettings(
        record_dir="recordings", max_bytes=None, min_free_bytes=1 << 30, clip_max_seconds=3600)
    camera = CameraRecording.from_table({}, "camera.desk")
    assert (camera.record, camera.segment_seconds, camera.keep, camera.pre_seconds,
            camera.post_seconds, camera.motion_masks) == ("off", 60, None, 5, 10, ())


def test_sizes_and_durations():
    assert parse_size("20G", "x") == 20 << 30
    assert parse_size("1.5G", "x") == 3 << 29
    assert parse_size("500M", "x") == 500 << 20
    assert parse_size("512KiB", "x") == 512 << 10
    assert parse_size(4096, "x") == 4096
    assert parse_duration("7d", "x") == 7 * 86400
    assert parse_duration("12h", "x") == 12 * 3600
    assert parse_duration("30m", "x") == 1800
    assert parse_duration("45s", "x") == 45
    assert parse_duration("2w", "x") == 14 * 86400


def test_a_whole_table():
    config = parse_config({
        "recording": {"record_dir": "/srv/rec", "max_bytes": "20G", "min_free_bytes": "2G",
                      "clip_max_seconds": 600},
        "camera": {
            "*": {"record": "continuous", "keep": "7d", "read": ["anyone"]},
            "desk": {"record": "motion", "motion_sensitivity": 0.8,
                     "motion_masks": [[0, 0, 0.5, 0.25]], "pre_seconds": 3, "post_seconds": 20,
                     "segment_seconds": 30},
            "door": {"record": "off"},
        }})
    assert config.recording == RecordingSettings("/srv/rec", 20 << 30, 2 << 30, 600)
    desk = config.for_camera("desk")
    # [camera.desk] overrides [camera."*"] key by key: keep comes from "*".
    assert (desk.record, desk.keep, desk.motion_sensitivity, desk.motion_masks,
            desk.pre_seconds, desk.post_seconds, desk.segment_seconds) == \
        ("motion", 7 * 86400, 0.8, ((0, 0, 0.5, 0.25),), 3, 20, 30)
    assert config.for_camera("door").record == "off"
    assert config.for_camera("garden").record == "continuous"
    assert config.any_recording


def test_record_flag_is_every_camera_continuous_and_record_dir_flag_wins():
    config = parse_config({"recording": {"record_dir": "a"}, "camera": {"door": {"record": "off"}}},
                          record_all=True, record_dir="b")
    assert config.recording.record_dir == "b"
    assert config.for_camera("any").record == "continuous"
    assert config.for_camera("door").record == "off"  # a camera's own table still wins
    assert not parse_config({}).any_recording
    assert RecordingConfig().for_camera("x").record == "off"


@pytest.mark.parametrize("document, message", [
    ({"camera": {"desk": {"keep": "7 days"}}},
     "camera.desk.keep: must look like 7d, 12h or 30m"),
    ({"camera": {"desk": {"keep": 7}}}, "camera.desk.keep: must look like 7d"),
    ({"camera": {"*": {"record": "always"}}},
     'camera."*".record: must be one of off, continuous, motion'),
    ({"camera": {"desk": {"segment_seconds": 0}}}, "camera.desk.segment_seconds: must be from"),
    ({"camera": {"desk": {"segment_seconds": True}}}, "camera.desk.segment_seconds: must be a"),
    ({"camera": {"desk": {"motion_sensitivity": 1.5}}},
     "camera.desk.motion_sensitivity: must be from 0 to 1"),
    ({"camera": {"desk": {"motion_masks": [[0, 0, 2, 1]]}}}, "camera.desk.motion_masks[0]"),
    ({"camera": {"desk": {"motion_masks": [[0.5, 0, 0.6, 1]]}}},
     "camera.desk.motion_masks[0]: [x, y, w, h] must"),
    ({"camera": {"desk": {"motion_masks": [0, 0, 1, 1]}}},
     "camera.desk.motion_masks: must be a list of [x, y, w, h]"),
    ({"camera": {"desk": {"pre_seconds": -1}}}, "camera.desk.pre_seconds"),
    ({"camera": {"desk": {"post_seconds": "10"}}}, "camera.desk.post_seconds: must be a number"),
    ({"camera": {"desk": "motion"}}, "camera.desk: must be a table"),
    ({"recording": {"max_bytes": "lots"}}, "recording.max_bytes: must look like 20G"),
    ({"recording": {"min_free_bytes": "-1G"}}, "recording.min_free_bytes: must look like"),
    ({"recording": {"clip_max_seconds": 0}}, "recording.clip_max_seconds: must be from"),
    ({"recording": {"record_dir": ""}}, "recording.record_dir: must be a directory"),
    ({"recording": {"keep": "7d"}}, "recording.keep: unknown setting"),
])
def test_errors_name_the_key(document, message):
    with pytest.raises(ValueError) as error:
        parse_config(document)
    assert message in str(error.value)


def test_flags_and_their_environment_variables(tmp_path, capsys):
    from camserver.config import parse_settings
    s = parse_settings(["--record", "--record-dir", "/srv/rec"], environ={})
    assert (s.record, s.record_dir, s.config) == (True, "/srv/rec", None)
    assert parse_settings([], environ={"RECORD": "1", "RECORD_DIR": "x"}).record is True
    assert parse_settings([], environ={"RECORD": "off"}).record is False
    assert parse_settings([], environ={}).record is False
    from camserver.config import ConfigError
    with pytest.raises(ConfigError, match="environment variable RECORD"):
        parse_settings([], environ={"RECORD": "maybe"})
