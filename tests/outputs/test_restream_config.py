"""Restream settings: ``[camera.<id>] restream`` in the config file and ``--restream ID=URL``,
checked before anything starts, one clear line per mistake."""

import subprocess
import sys

import pytest

from camserver.app import configure
from camserver.config import ConfigError, parse_settings
from conftest import ROOT


def plan(tmp_path, toml: str = "", argv=(), environ=None) -> dict:
    argv = list(argv)
    if toml:
        path = tmp_path / "camserver.toml"
        path.write_text(toml)
        argv += ["--config", str(path)]
    return configure(parse_settings(argv, environ=environ or {})).restream


def test_camera_tables_and_flags_make_one_plan(tmp_path):
    toml = ('[anonymous]\nallow = ["read"]\n'
            '[camera.desk]\nrestream = ["rtmp://a/live/k1", "srt://b:1?streamid=x"]\n'
            '[camera."*"]\nrestream = ["rtsp://mtx:8554/{camera}"]\n')
    got = plan(tmp_path, toml, ["--restream", "desk=rtmp://c/live/k2",
                                "--restream", "door=rtmp://c/live/k3"])
    assert got == {"desk": ("rtmp://a/live/k1", "srt://b:1?streamid=x", "rtmp://c/live/k2"),
                   "*": ("rtsp://mtx:8554/{camera}",), "door": ("rtmp://c/live/k3",)}


def test_environment_and_server_table_and_flag_precedence(tmp_path):
    toml = '[server]\nrestream = ["a=rtmp://h/live/file"]\n'
    assert plan(tmp_path, toml) == {"a": ("rtmp://h/live/file",)}
    assert plan(tmp_path, toml, environ={"RESTREAM": "b=rtmp://h/live/e1 b=rtmp://h/live/e2"}) \
        == {"b": ("rtmp://h/live/e1", "rtmp://h/live/e2")}
    assert plan(tmp_path, toml, ["--restream", "c=rtmp://h/live/flag"],
                environ={"RESTREAM": "b=rtmp://h/live/e1"}) == {"c": ("rtmp://h/live/flag",)}


@pytest.mark.parametrize("toml, message", [
    ('[camera.desk]\nrestream = "rtmp://a/live/k"\n',
     "camera.desk.restream: a list of URLs"),
    ('[camera.desk]\nrestream = ["http://a/live/k"]\n',
     "camera.desk.restream[0]: scheme http:// is not one of"),
    ('[camera.desk]\nrestream = ["rtmp://a/live/k", 5]\n',
     "camera.desk.restream[1]: must be a URL string"),
    ('[camera."*"]\nrestream = ["rtmp://a/live/same-for-all"]\n',
     'camera.*.restream[0]: a URL for every camera needs {camera} in it'),
])
def test_bad_tables_are_one_clear_error(tmp_path, toml, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("*", r"\*")):
        plan(tmp_path, toml)


@pytest.mark.parametrize("value, message", [
    ("rtmp://a/live/k", "must look like CAMERA_ID=rtmp://host/app/key"),
    ("desk=ftp://a/b", "desk: scheme ftp:// is not one of"),
    ("*=rtmp://a/live/k", "a URL for every camera needs {camera}"),
])
def test_bad_flags_exit_with_usage(value, message, capsys):
    with pytest.raises(SystemExit):
        parse_settings(["--restream", value], environ={})
    assert message in capsys.readouterr().err


def test_server_refuses_a_bad_target_at_start_without_showing_the_key(tmp_path):
    path = tmp_path / "camserver.toml"
    path.write_text('[camera.desk]\nrestream = ["rtmp://a/live/k", "htp://x/live/s3cretKey"]\n')
    out = subprocess.run([sys.executable, "server.py", "--config", str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "camera.desk.restream[1]: scheme htp:// is not one of" in out.stderr
    assert "s3cretKey" not in out.stderr


def test_a_build_without_srt_refuses_an_srt_target_at_start_with_one_clear_line(tmp_path):
    """Both FFmpeg builds here have SRT (the SRT restream test checks that and runs). A build
    without it (some distributions') must stop the start with a line saying so, not fail each
    push later: the real Debian FFmpeg behind a wrapper whose -protocols listing leaves SRT
    out."""
    wrapper = tmp_path / "ffmpeg-without-srt"
    wrapper.write_text('#!/bin/sh\ncase " $* " in *" -protocols "*)\n'
                       '  ffmpeg "$@" | grep -vx "  srt"; exit 0;;\nesac\nexec ffmpeg "$@"\n')
    wrapper.chmod(0o755)
    listed = subprocess.run([str(wrapper), "-hide_banner", "-protocols"], capture_output=True,
                            text=True, timeout=20).stdout
    assert "  rtmp\n" in listed and "  srt\n" not in listed  # the wrapper does what it says
    out = subprocess.run([sys.executable, "server.py", "--ffmpeg", str(wrapper),
                          "--restream", "cam=srt://127.0.0.1:9?streamid=s3cretId",
                          "--restream", "cam=rtmp://127.0.0.1:9/live/k"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if "cannot push to" in line]
    assert len(lines) == 1 and "cannot push to srt:// (this build lacks" in lines[0], out.stderr
    assert "s3cretId" not in out.stderr
