"""The nine ways a hostile or unlucky peer could hurt the server, each against a real server
process over real sockets: memory, log floods, deep JSON, stalled viewers, slow shutdown,
viewers of made-up cameras, a flapping camera, slowloris and a crowd of viewers at once."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import ROOT
from helpers import ScriptedCamera, make_jpeg, noise_jpeg, rss_mb, watch
from test_end_to_end import status, wait_until

FLOOD = [sys.executable, "-c", """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from benchmarks.wsclient import open_viewer
async def main(port, count, path, seconds):
    viewers = await asyncio.gather(*(open_viewer("127.0.0.1", port, path) for _ in range(count)))
    print("connected", len(viewers), flush=True)
    await asyncio.sleep(seconds)
asyncio.run(main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
""", str(ROOT)]


def camera_status(server, camera_id):
    return next(c for c in status(server)["cameras"] if c["id"] == camera_id)


def stalled_viewer(port: int, path: str) -> socket.socket:
    """A viewer that completes the handshake and then never reads."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    return sock


def post(server, path, body: bytes):
    request = urllib.request.Request(server.http_url(path), data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# 1 -------------------------------------------------------------------------------------------

def test_texts_of_unknown_types_leave_no_memory_behind(server):
    async def scenario():
        async with ScriptedCamera(server.camera_url("mem")) as camera:
            await camera.send(make_jpeg(320, 240))
            await asyncio.sleep(1)
            before = rss_mb(server.proc.pid)
            for n in range(100):
                await camera.send(json.dumps({"type": f"{n:04d}" + "x" * 1_000_000}))
            await camera.send(make_jpeg(320, 240))  # still connected and served
            await asyncio.sleep(0.5)
        return before

    before = asyncio.run(scenario())
    wait_until(lambda: not camera_status(server, "mem")["online"])
    after = rss_mb(server.proc.pid)
    assert after - before < 15, (before, after)
    assert camera_status(server, "mem")["frames_in"] == 2


# 2 -------------------------------------------------------------------------------------------

def test_a_thousand_bad_messages_of_twenty_kinds_make_at_most_a_hundred_log_lines(start_server):
    server = start_server("--max-frame-bytes", "64k")
    good = make_jpeg(320, 240)
    big = make_jpeg(640, 480)
    scan = good.index(b"\xff\xda")
    undecodable = good[:scan + 20] + bytes(range(256)) * 8 + b"\xff\xd9"  # passes our checks
    binary_kinds = [
        lambda n: b"not a jpeg %d" % n,
        lambda n: good[:-(n + 3)],
        lambda n: good + b"\0" * (70_000 + n),                           # over the limit
        lambda n: b"\xff\xd8\x00\x00" + bytes([n % 256]) * 50 + b"\xff\xd9",
        lambda n: undecodable,                                            # FFmpeg complains
        lambda n: good if n % 2 else big,                                 # size flapping
    ]
    text_kinds = [
        lambda n: "{not json %d" % n,
        lambda n: "[" * (30_000 + n),
        lambda n: json.dumps([n]),
        lambda n: json.dumps({"type": f"kind-{n}"}),
        lambda n: json.dumps({"type": "hello", "board": f"b{n}", "extra": "x" * 1000}),
        lambda n: json.dumps({"type": "config_ack", "applied": {"x": "y" * 50_000},
                              "rejected": {f"k{n}": "z" * 10_000}}),
        lambda n: "x" * (70_000 + n),
    ]

    async def campaign():
        async with ScriptedCamera(server.camera_url("noisy")) as camera:
            for n in range(50):
                for kind in binary_kinds + text_kinds:                   # 13 kinds
                    await camera.send(kind(n))
        for n in range(50):                                              # 14: reconnect storm
            async with ScriptedCamera(server.camera_url("storm")) as camera:
                await camera.send(good)
        for n in range(50):                                              # 15, 16: viewers
            # max_queue=None: a client that reads nothing would otherwise stop reading the
            # socket and wait its close timeout for a closing frame queued behind the video.
            async with connect(server.viewer_url("noisy", "fmp4"), max_queue=None) as viewer:
                await viewer.send("[" * 3000 + "{nope")
            try:
                async with connect(server.viewer_url("noisy", "webm")):
                    pass
            except InvalidStatus:
                pass
        for n in range(50):                                              # 17: bad camera ids
            try:
                async with connect(f"ws://127.0.0.1:{server.camera_port}/bad%20id{n}"):
                    pass
            except InvalidStatus:
                pass

        def http_noise():
            for n in range(50):
                post(server, "/api/cameras/noisy/config", b"[" * 20_000)          # 18
                post(server, f"/api/cameras/bad%20id{n}/config", b"{}")           # 19
                with socket.create_connection(("127.0.0.1", server.http_port)) as sock:
                    sock.sendall(b"GARBAGE %d\r\n\r\n" % n)                     # 20
                    sock.recv(1000)
        await asyncio.to_thread(http_noise)

    start = server.line_count
    began = time.monotonic()
    asyncio.run(campaign())
    took = time.monotonic() - began
    time.sleep(1)
    lines = server.log().splitlines()[start:]
    assert len(lines) <= 100, (took, "\n".join(lines))
    assert "Traceback" not in server.log()
    assert all(len(line) < 600 for line in lines)
    noisy = camera_status(server, "noisy")
    assert noisy["frames_rejected"] == 200 and noisy["frames_in"] == 100  # all accounted for


# 3 -------------------------------------------------------------------------------------------

def test_json_nested_as_deep_as_each_port_allows_is_refused_without_a_traceback(server):
    async def scenario():
        async with ScriptedCamera(server.camera_url("deep")) as camera:
            await camera.send(make_jpeg(320, 240))
            await camera.send("[" * 100_000)              # over the text limit
            await camera.send("[" * 60_000)               # under it: json's RecursionError
            await camera.send('{"a":' * 30_000)
            await camera.send(make_jpeg(320, 240))        # the connection goes on
            async with connect(server.viewer_url("deep", "fmp4"), max_size=None) as viewer:
                await viewer.send("[" * 30_000)           # within the viewer port's 64 KiB
                await viewer.send(json.dumps({"type": "ping", "t": 1}))
                while True:
                    message = await viewer.recv()
                    if isinstance(message, str) and json.loads(message)["type"] == "pong":
                        return json.loads(message)

    pong = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert pong["t"] == 1
    assert post(server, "/api/cameras/deep/config", b"[" * 60_000) == 400
    assert post(server, "/api/cameras/deep/config", b"[" * 100_000) == 413
    wait_until(lambda: camera_status(server, "deep")["frames_in"] == 2)
    assert "Traceback" not in server.log()
    assert "ignored a text message that is not JSON" in server.log()


# 4 -------------------------------------------------------------------------------------------

def test_a_stalled_viewer_is_dropped_in_time_and_a_reading_one_loses_nothing(start_server):
    server = start_server("--viewer-stall-timeout", "3", "--bitrate", "40M")
    frames = [noise_jpeg(seed) for seed in range(30)]

    async def scenario():
        stop = asyncio.Event()
        reader = asyncio.create_task(watch(server.viewer_url("s"), 60, stop=stop))
        stalled = stalled_viewer(server.viewer_port, "/s?format=ts")
        sent = 0
        dropped_at = None
        async with ScriptedCamera(server.camera_url("s")) as camera:
            start = time.monotonic()
            while time.monotonic() - start < 12:
                await camera.send(frames[sent % 30])
                sent += 1
                await asyncio.sleep(1 / 30)
                if dropped_at is None and sent % 15 == 0:
                    report = await asyncio.to_thread(status, server)
                    if report["server"]["viewers_dropped_stalled"]:
                        dropped_at = time.monotonic() - start
        await asyncio.sleep(1)
        stop.set()
        stalled.close()
        return await reader, sent, dropped_at

    received, sent, dropped_at = asyncio.run(scenario())
    assert dropped_at is not None and dropped_at < 3 + 4  # stall timeout + filling its buffers
    assert len(received.binary) == sent                  # the reading viewer lost nothing
    assert "took nothing of its" in server.log()


# 5 -------------------------------------------------------------------------------------------

def test_shutdown_with_500_readers_and_100_stalled_viewers_takes_at_most_3_s(start_server):
    server = start_server("--bitrate", "20M")
    frames = [noise_jpeg(seed) for seed in range(10)]
    flood = subprocess.Popen([*FLOOD, str(server.viewer_port), "500", "/sd?format=ts", "60"],
                             stdout=subprocess.PIPE, text=True)
    stalled = [stalled_viewer(server.viewer_port, "/sd?format=ts") for _ in range(100)]

    async def camera():
        async with ScriptedCamera(server.camera_url("sd")) as cam:
            for n in range(150):
                await cam.send(frames[n % 10])
                await asyncio.sleep(1 / 30)

    try:
        assert flood.stdout.readline().startswith("connected 500")
        asyncio.run(camera())
        viewers = status(server)["viewer_clients"]
        began = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(10)
        took = time.monotonic() - began
    finally:
        flood.kill()
        for sock in stalled:
            sock.close()
    assert viewers == 600
    assert code == 0 and took <= 3.0, took
    assert "Stopped" in server.log()


# 6 -------------------------------------------------------------------------------------------

def test_viewers_of_a_thousand_made_up_cameras_leave_camera_admission_untouched(start_server):
    server = start_server("--max-streams", "4")

    async def scenario():
        async def made_up(n):
            try:
                async with connect(server.viewer_url(f"nope{n}")) as viewer:
                    await asyncio.wait_for(viewer.recv(), 3)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            except asyncio.TimeoutError:
                return "waiting"

        results = await asyncio.gather(*(made_up(n) for n in range(1000)))
        return results

    results = asyncio.run(scenario())
    assert results.count("waiting") <= 4 and results.count(1013) >= 996
    assert status(server)["cameras"] == []

    async def real_camera():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("real"), 10, stop=stop))
        async with ScriptedCamera(server.camera_url("real")) as camera:
            for n in range(10):
                await camera.send(make_jpeg(320, 240, n=n))
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        stop.set()
        return await viewer

    assert len(asyncio.run(real_camera()).binary) == 10
    assert [c["id"] for c in status(server)["cameras"]] == ["real"]


# 7 -------------------------------------------------------------------------------------------

def test_a_camera_flapping_between_two_sizes_gets_a_bounded_number_of_encoder_starts(server):
    small, large = make_jpeg(320, 240), make_jpeg(640, 480)

    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("flap"), 60, stop=stop))
        sent = 0
        async with ScriptedCamera(server.camera_url("flap")) as camera:
            start = time.monotonic()
            while time.monotonic() - start < 20:
                await camera.send(small if sent % 2 else large)
                sent += 1
                await asyncio.sleep(1 / 15)
            await asyncio.sleep(1)
        stop.set()
        return await viewer, sent

    received, sent = asyncio.run(scenario())
    camera = camera_status(server, "flap")
    assert camera["encoder_starts"] <= 6, camera["encoder_starts"]
    assert camera["frames_rescaled"] > sent // 3  # encoded at the encoder's size meanwhile
    assert len(received.binary) > 0.8 * sent      # and viewers kept getting video


# 8 -------------------------------------------------------------------------------------------

def test_slowloris_and_idle_keep_alive_connections_are_closed(start_server):
    server = start_server("--http-timeout", "2")

    def closed_after(sock: socket.socket, trickle: bool) -> float:
        began = time.monotonic()
        sock.settimeout(0.5)
        while time.monotonic() - began < 10:
            try:
                if trickle:
                    sock.sendall(b"X")
                if sock.recv(65536) == b"":
                    return time.monotonic() - began
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - began
        return float("inf")

    slow = socket.create_connection(("127.0.0.1", server.http_port))
    slow.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert closed_after(slow, trickle=True) < 2 + 1.5

    idle = socket.create_connection(("127.0.0.1", server.http_port))
    idle.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200")
    assert closed_after(idle, trickle=False) < 2 + 1.5
    assert status(server)["camera_clients"] == 0  # and the server answers as before


# 9 -------------------------------------------------------------------------------------------

def test_two_thousand_viewers_at_once_cost_a_reader_no_frame_and_ffmpeg_no_restart(server):
    jpegs = [make_jpeg(640, 480, n=n) for n in range(30)]

    async def scenario():
        stop = asyncio.Event()
        reader = asyncio.create_task(watch(server.viewer_url("crowd"), 120, stop=stop))
        sent = 0
        flood = None
        async with ScriptedCamera(server.camera_url("crowd")) as camera:
            start = time.monotonic()
            while time.monotonic() - start < 14:
                if flood is None and time.monotonic() - start > 3:
                    flood = await asyncio.create_subprocess_exec(
                        *FLOOD, str(server.viewer_port), "2000", "/crowd?format=ts", "12",
                        stdout=subprocess.PIPE)
                await camera.send(jpegs[sent % 30])
                sent += 1
                await asyncio.sleep(1 / 30)
            connected = (await flood.stdout.readline()).decode()
        await asyncio.to_thread(wait_until, lambda: camera_status(
            server, "crowd")["frames_in_flight"] == 0)
        await asyncio.sleep(1)
        stop.set()
        flood.kill()
        await flood.wait()
        return await reader, sent, connected

    received, sent, connected = asyncio.run(scenario())
    camera = camera_status(server, "crowd")
    assert connected.startswith("connected 2000")
    assert camera["frames_encoded"] == sent
    assert len(received.binary) == sent             # the reader lost no frame
    assert camera["encoder_failures"] == 0          # and FFmpeg was not blamed
    assert "held a frame" not in server.log()
