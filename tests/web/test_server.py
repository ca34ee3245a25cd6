"""HTTP: pages, /status, snapshots, and the stream URLs with real ffmpeg/ffprobe as clients."""

import asyncio
import json
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from camserver.media.jpeg import inspect_jpeg
from conftest import ffprobe_path
from helpers import DECODE_CHECK_OUTPUT, ScriptedCamera, make_jpeg
from test_end_to_end import status, wait_until


@pytest.fixture
def streaming(server, start_camera):
    start_camera(server.camera_url(), "--camera-id", "yard", "--width", "640", "--height", "480")
    wait_until(lambda: status(server)["streaming"])
    return server


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_pages_are_served(server):
    for path in ("/", "/mjpeg"):
        code, headers, body = get(server.http_url(path))
        assert code == 200 and headers["Content-Type"].startswith("text/html")
        assert b"<html" in body.lower()


def test_status_when_idle(server):
    report = status(server)
    server_figures = report.pop("server")
    assert report == {"camera_clients": 0, "viewer_clients": 0, "streaming": False,
                      "encoder": "libx264", "cameras": []}
    assert server_figures["viewers"] == 0 and server_figures["max_viewers"] == 5000


def test_snapshot(streaming):
    code, headers, body = get(streaming.http_url("/snapshot/yard.jpg"))
    assert headers["Content-Type"] == "image/jpeg"
    assert (inspect_jpeg(body).width, inspect_jpeg(body).height) == (640, 480)
    assert get(streaming.http_url("/snapshot.jpg"))[0] == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(streaming.http_url("/snapshot/nope.jpg"))
    assert missing.value.code == 404


def test_ts_url_plays_in_ffprobe_and_ffmpeg(streaming):
    url = streaming.http_url("/stream/yard.ts")
    probe = subprocess.run([ffprobe_path(), "-v", "error", "-show_entries",
                            "stream=codec_name,width,height,pix_fmt", "-of", "json", url],
                           capture_output=True, text=True, timeout=30)
    assert json.loads(probe.stdout)["streams"][0] == {
        "codec_name": "h264", "width": 640, "height": 480, "pix_fmt": "yuv420p"}
    decode = subprocess.run([shutil.which("ffmpeg"), "-v", "error", "-i", url,
                             "-frames:v", "60", *DECODE_CHECK_OUTPUT],
                            capture_output=True, text=True, timeout=30)
    assert decode.returncode == 0 and decode.stderr == ""


def test_mjpeg_url_plays_in_ffmpeg(streaming):
    out = subprocess.run([shutil.which("ffmpeg"), "-v", "error", "-f", "mpjpeg",
                          "-i", streaming.http_url("/stream/yard.mjpeg"), "-frames:v", "30",
                          "-f", "image2pipe", "-c:v", "copy", "-"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(b"\xff\xd9") >= 30
    assert inspect_jpeg(out.stdout[:out.stdout.index(b"\xff\xd9") + 2]).width == 640


def test_http_viewers_count_and_leave(streaming):
    async def hold_ts_stream():
        reader, writer = await asyncio.open_connection("127.0.0.1", streaming.http_port)
        writer.write(b"GET /stream/yard.ts HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(188 * 10)
        viewers = await asyncio.to_thread(lambda: status(streaming)["viewer_clients"])
        writer.close()
        return viewers

    assert asyncio.run(hold_ts_stream()) == 1
    wait_until(lambda: status(streaming)["viewer_clients"] == 0)


def test_prometheus_metrics(streaming):
    code, headers, body = get(streaming.http_url("/metrics"))
    text = body.decode()
    assert headers["Content-Type"].startswith("text/plain")
    assert "camserver_camera_clients 1" in text
    assert 'camserver_camera_online{camera="yard"} 1' in text
    assert "# TYPE camserver_frames_received_total counter" in text
    frames = float(text.split('camserver_frames_received_total{camera="yard"} ')[1].split()[0])
    assert frames > 0


def test_metrics_tell_ffmpegs_share_of_the_delay_from_the_servers(streaming):
    wait_until(lambda: status(streaming)["cameras"][0]["frames_encoded"] > 0)
    text = get(streaming.http_url("/metrics"))[2].decode()

    def gauge(name):
        return float(text.split(f'{name}{{camera="yard"}} ')[1].split()[0])

    assert "# TYPE camserver_encoder_delay_p50_ms gauge" in text
    assert 0 < gauge("camserver_encoder_delay_p50_ms") <= gauge("camserver_server_delay_p50_ms")


def test_settings_are_forwarded_to_the_camera(server):
    async def scenario():
        async with ScriptedCamera(server.camera_url("cfg")) as camera:
            await camera.send(make_jpeg(320, 240))
            wait_until(lambda: status(server)["cameras"])

            def post(body):
                request = urllib.request.Request(
                    server.http_url("/api/cameras/cfg/config"), data=json.dumps(body).encode(),
                    method="POST", headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        return response.status, response.read().decode()
                except urllib.error.HTTPError as error:
                    return error.code, error.read().decode()

            bad = await asyncio.to_thread(post, {"quality": 500})
            ok = await asyncio.to_thread(post, {"framesize": "svga", "fps": 10, "vflip": True})
            message = json.loads(await asyncio.wait_for(camera.ws.recv(), 5))
            await camera.send(json.dumps({"type": "config_ack", "applied": {"fps": 10},
                                          "rejected": {}}))
            await asyncio.sleep(0.3)
            return bad, ok, message

    bad, ok, message = asyncio.run(scenario())
    assert bad == (400, "quality must be an integer from 1 to 100\n")
    assert ok[0] == 202
    assert message == {"type": "config", "framesize": "SVGA", "fps": 10, "vflip": True}
    camera = status(server)["cameras"][0]
    assert camera["last_config_ack"] == {"applied": {"fps": 10}, "rejected": {}}
