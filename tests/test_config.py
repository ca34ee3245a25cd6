import pytest

from camserver.config import ConfigError, Settings, parse_settings


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
])
def test_bad_flags_exit_with_usage(argv, env, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv, environ=env)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("env, message", [
    ({"VIEWER_PORT": "x"}, "environment variable VIEWER_PORT"),
    ({"ENCODER": "h265"}, "environment variable ENCODER: must be one of"),
])
def test_bad_environment_variables_are_one_clear_error(env, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings([], environ=env)


def test_the_config_file_comes_between_environment_and_default(tmp_path):
    path = tmp_path / "camserver.toml"
    path.write_text('[server]\nhttp_port = 9100\ncamera_port = 9101\nbitrate = "2M"\n'
                    'trusted_proxies = ["10.0.0.1", "192.168.0.0/16"]\ncamera_tls = false\n'
                    '[[user]]\nname = "alice"\npassword = "x"\nallow = ["read:*"]\n')
    s = parse_settings(["--camera-port", "9201"], environ={"CONFIG": str(path),
                                                           "BITRATE": "3M"})
    assert (s.http_port, s.camera_port, s.bitrate) == (9100, 9201, "3M")
    assert s.trusted_proxies == ("10.0.0.1", "192.168.0.0/16") and s.camera_tls is False
    assert s.config == str(path) and s.document["user"][0]["name"] == "alice"
    assert "server" not in s.document


@pytest.mark.parametrize("text, message", [
    ("[server]\nhttp_prot = 1\n", "server.http_prot: unknown setting"),
    ("[server]\nhttp_port = \"many\"\n", "server.http_port: invalid literal"),
    ("[server]\ngop = true\n", "server.gop: true/false is not a value"),
    ("[serve]\n", "unknown table or key 'serve'"),
    ("[server\n", "not valid TOML"),
    ("[server]\nencoder = \"h265\"\n", "server.encoder: must be one of"),
    ("[server]\ntrusted_proxies = [\"nowhere\"]\n", "'nowhere' is not an address"),
])
def test_config_file_mistakes_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        parse_settings(["--config", str(path)], environ={})
    assert str(path) in str(error.value)


def test_a_missing_config_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        parse_settings(["--config", str(tmp_path / "nope.toml")], environ={})
