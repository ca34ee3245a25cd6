"""The camera endpoint: ids, tokens, checks on every message, hello, takeover."""

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from helpers import ScriptedCamera, make_jpeg, refusal_status, watch
from test_end_to_end import status, wait_until


def camera_status(server, camera_id):
    return next(c for c in status(server)["cameras"] if c["id"] == camera_id)


def test_bad_frames_are_dropped_with_a_reason_and_the_stream_goes_on(start_server):
    server = start_server("--max-frame-bytes", "64k")
    good = make_jpeg(320, 240)
    bad = [b"not a jpeg at all", good[:-200], make_jpeg(320, 240) + b"\x01" * 70_000]

    async def scenario():
        async with ScriptedCamera(server.camera_url("cam")) as camera:
            await camera.send(good)
            for message in bad + [b"garbage"] * 30:
                await camera.send(message)
            for n in range(5):
                await camera.send(make_jpeg(320, 240, n=n))
            await asyncio.sleep(0.5)
            return camera.ws.state.name

    assert asyncio.run(scenario()) == "OPEN"
    wait_until(lambda: camera_status(server, "cam")["frames_in"] == 6)
    cam = camera_status(server, "cam")
    assert cam["frames_rejected"] == 33 and cam["frames_dropped"] >= 33
    log = server.log()
    assert "dropped a frame: not a JPEG (no SOI marker at the start)" in log
    assert "dropped a frame: truncated JPEG (no EOI marker at the end)" in log
    assert "over the 65536-byte frame limit" in log
    # 31 non-JPEG messages, but the log says so once (rate-limited), not 31 times.
    assert log.count("no SOI marker") == 1


def test_hello_is_kept_and_unknown_messages_are_ignored(server):
    async def scenario():
        async with ScriptedCamera(server.camera_url("hi")) as camera:
            await camera.send(json.dumps({"type": "hello", "board": "AtomS3R-M12",
                                          "sensor": "OV3660", "width": 640, "fps": 15,
                                          "secret": "x" * 10}))
            await camera.send(json.dumps({"type": "telemetry", "rssi": -60}))
            await camera.send("{not json")
            await camera.send(make_jpeg(320, 240))
            await asyncio.sleep(0.3)

    asyncio.run(scenario())
    hello = wait_until(lambda: camera_status(server, "hi")["hello"])
    assert hello == {"board": "AtomS3R-M12", "sensor": "OV3660", "width": 640, "fps": 15}
    assert "ignored a message of unknown type 'telemetry'" in server.log()
    assert "ignored a text message that is not JSON" in server.log()


@pytest.mark.parametrize("path", ["/bad%20id", "/" + "x" * 65, "/a/b"])
def test_invalid_camera_id_is_refused(server, path):
    assert refusal_status(f"ws://127.0.0.1:{server.camera_port}{path}") == 400


def test_token_when_configured(start_server):
    server = start_server("--camera-token", "s3cret")
    assert refusal_status(server.camera_url("cam")) == 401
    assert refusal_status(server.camera_url("cam"), {"Authorization": "Bearer wrong"}) == 401
    assert refusal_status(server.camera_url("cam"), {"Authorization": "Bearer s3cret"}) is None
    assert refusal_status(server.camera_url("cam") + "?token=s3cret") is None


def test_reconnecting_camera_takes_over_and_viewers_carry_on(server):
    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("door"), 20, stop=stop))
        old = await ScriptedCamera(server.camera_url("door")).__aenter__()
        for n in range(10):
            await old.send(make_jpeg(320, 240, n=n))
            await asyncio.sleep(0.03)
        # The same camera comes back on a new connection (the old one is half-open).
        async with ScriptedCamera(server.camera_url("door")) as new:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(old.ws.recv(), 5)
            for n in range(10):
                await new.send(make_jpeg(320, 240, n=100 + n))
                await asyncio.sleep(0.03)
            await asyncio.sleep(0.5)
        stop.set()
        return await viewer

    received = asyncio.run(scenario())
    assert len(received.binary) == 20  # one viewer connection saw both cameras' frames
    assert "Camera door reconnected" in server.log()
