import pytest

from camserver.config import Settings, parse_settings


def test_defaults():
    s = parse_settings([], environ={})
    assert s == Settings()
    assert (s.camera_port, s.viewer_port, s.http_port) == (8765, 8766, 8080)
    assert s.max_frame_bytes == 2 * 1024 * 1024 and s.encoder == "auto"


def test_flags():
    s = parse_settings(["--camera-port", "9000", "--bitrate", "2M", "--gop", "0.5",
                        "--max-frame-bytes", "512k", "--encoder", "libx264",
                        "--log-level", "debug"], environ={})
    assert (s.camera_port, s.bitrate, s.gop, s.max_frame_bytes, s.encoder, s.log_level) == \
        (9000, "2M", 0.5, 512 * 1024, "libx264", "DEBUG")


def test_environment_variables_and_flags_win():
    env = {"CAMERA_PORT": "7000", "HTTP_PORT": "7001", "MAX_FRAME_BYTES": "1M",
           "ENCODER": "libx264"}
    s = parse_settings(["--http-port", "7002"], environ=env)
    assert (s.camera_port, s.http_port, s.max_frame_bytes, s.encoder) == \
        (7000, 7002, 1024 * 1024, "libx264")


@pytest.mark.parametrize("argv, env, message", [
    (["--camera-port", "70000"], {}, "port must be 0-65535"),
    (["--bitrate", "fast"], {}, "bitrate must look like"),
    (["--gop", "0"], {}, "must be greater than 0"),
    (["--max-frame-bytes", "10"], {}, "at least 1024 bytes"),
    (["--encoder", "h265"], {}, "invalid choice"),
    ([], {"VIEWER_PORT": "x"}, "environment variable VIEWER_PORT"),
    ([], {"ENCODER": "h265"}, "environment variable ENCODER: must be one of"),
])
def test_bad_values_exit_with_usage(argv, env, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv, environ=env)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
