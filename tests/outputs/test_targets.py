"""Restream target URLs: what is accepted, what is shown, the FFmpeg command per kind."""

import re

import pytest

from camserver.outputs import targets


@pytest.mark.parametrize("url", [
    "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop",
    "rtmps://live-api-s.facebook.com:443/rtmp/FB-123",
    "srt://mediamtx.lan:8890?streamid=publish:desk&pkt_size=1316",
    "rtsp://user:pw@mediamtx.lan:8554/desk",
    "rtmp://nginx.lan/live/{camera}",
])
def test_accepted_urls(url):
    assert targets.check_url(targets.for_camera(url, "desk")) == url.replace("{camera}", "desk")


@pytest.mark.parametrize("url, message", [
    ("http://example.com/live", "scheme http:// is not one of"),
    ("example.com/live", "scheme (none) is not one of"),
    ("rtmp:///live/key", "needs a host"),
    ("rtmp://host", "an RTMP URL needs an application and a stream name"),
    ("rtmp://host/live/a key", "must not contain spaces"),
    ("srt://host:99999", "not a valid URL"),
    (42, "must be a URL string"),
    ("rtmp://h/" + "k" * 3000, "must be 1-2048 characters"),
])
def test_refused_urls_say_why_without_repeating_the_url(url, message):
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        targets.check_url(url)
    assert str(url) not in str(refused.value)


@pytest.mark.parametrize("url, shown", [
    ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop",
     "rtmp://a.rtmp.youtube.com/live2/***"),
    ("rtmp://host/app", "rtmp://host/app"),
    ("rtmp://host:1935/live/key?token=t0ken99", "rtmp://host:1935/live/***?token=***"),
    ("srt://h:8890?mode=caller&latency=200000&passphrase=verysecret1&streamid=publish:x",
     "srt://h:8890?mode=caller&latency=200000&passphrase=***&streamid=***"),
    ("rtsp://alice:pa55word@h:8554/desk", "rtsp://alice:***@h:8554/desk"),
    ("rtsp://h:8554/desk", "rtsp://h:8554/desk"),
])
def test_masked_for_status_metrics_and_logs(url, shown):
    assert targets.mask(url) == shown


def test_masker_scrubs_ffmpeg_lines():
    url = "srt://h:8890?mode=caller&passphrase=very%20secret1&streamid=publish:desk:u:pw1234"
    masker = targets.Masker(url)
    line = (f"[srt @ 0x55] Connection to {url} failed: Connection refused; passphrase "
            f"very secret1 / very%20secret1, streamid publish:desk:u:pw1234")
    scrubbed = masker(line)
    assert "secret1" not in scrubbed and "pw1234" not in scrubbed
    assert masker.masked in scrubbed and "mode=caller" in scrubbed


@pytest.mark.parametrize("url, output", [
    ("rtmp://h/live/k", ["-f", "flv", "-flvflags", "no_duration_filesize"]),
    ("rtmps://h/live/k", ["-f", "flv", "-flvflags", "no_duration_filesize"]),
    ("srt://h:1?mode=caller", ["-f", "mpegts"]),
    ("rtsp://h/x", ["-f", "rtsp", "-rtsp_transport", "tcp"]),
])
def test_push_command_copies_ts_from_stdin(url, output):
    command = targets.push_command("ffmpeg", url)
    assert command[-1] == url and command[-1 - len(output):-1] == output
    assert command[command.index("-i") - 2:command.index("-i") + 2] == [
        "-f", "mpegts", "-i", "pipe:0"]
    assert command[command.index("-c"):command.index("-c") + 2] == ["-c", "copy"]
    assert "-progress" in command and "pipe:1" in command


def test_missing_schemes_from_ffmpeg_listings():
    protocols = targets.output_protocols(
        "Supported file protocols:\nInput:\n  file\n  http\n  srt\n  rtmp\nOutput:\n"
        "  file\n  http\n  rtmp\n  rtmps\n")
    muxers = targets.muxers(" E  flv             FLV (Flash Video)\n"
                            "  E mpegts          MPEG-TS (MPEG-2 Transport Stream)\n"
                            " D  rtsp            RTSP input\n")
    assert protocols == {"file", "http", "rtmp", "rtmps"} and muxers == {"flv", "mpegts"}
    assert targets.missing_schemes(["rtmp://h/live/k", "rtmps://h/a/b"], protocols,
                                   muxers) == set()
    assert targets.missing_schemes(["srt://h:1", "rtsp://h/x", "rtmp://h/live/k"], protocols,
                                   muxers) == {"srt", "rtsp"}


def test_both_ffmpeg_builds_can_push_to_every_scheme():
    import subprocess
    import imageio_ffmpeg
    for ffmpeg in ("ffmpeg", imageio_ffmpeg.get_ffmpeg_exe()):
        def listing(what):
            return subprocess.run([ffmpeg, "-hide_banner", what], capture_output=True,
                                  text=True, timeout=20).stdout
        assert targets.missing_schemes(
            [f"{s}://h/a/b" for s in targets.SCHEMES], targets.output_protocols(
                listing("-protocols")), targets.muxers(listing("-muxers"))) == set(), ffmpeg
