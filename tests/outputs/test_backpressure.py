"""A viewer that stops reading costs bounded memory and nothing to the other viewers."""

import asyncio
import socket
import time

from helpers import ScriptedCamera, noise_jpeg, rss_mb, watch
from test_end_to_end import status


def test_stalled_viewer_is_bounded_and_others_lose_nothing(start_server):
    # Noise at a high bitrate: ~5 MB/s of H.264, far more than the kernel's socket buffers
    # absorb, so without the skip policy the server's memory would grow by tens of MB.
    server = start_server("--viewer-buffer-bytes", "256k", "--bitrate", "40M")
    frames = [noise_jpeg(seed) for seed in range(30)]
    sent = 0

    async def scenario():
        nonlocal sent
        stop = asyncio.Event()
        reader = asyncio.create_task(watch(server.viewer_url("s"), 60, stop=stop))
        stalled = socket.create_connection(("127.0.0.1", server.viewer_port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /s?format=ts HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n")
        rss = []
        async with ScriptedCamera(server.camera_url("s")) as camera:
            start = time.monotonic()
            while time.monotonic() - start < 15:
                await camera.send(frames[sent % 30])
                sent += 1
                if sent % 30 == 0:
                    rss.append(rss_mb(server.proc.pid))
                await asyncio.sleep(1 / 30)
            camera_status = status(server)["cameras"][0]
        await asyncio.sleep(1)
        stop.set()
        stalled.close()
        return await reader, rss, camera_status

    received, rss, camera_status = asyncio.run(scenario())
    skipped = camera_status["viewer_frames_skipped"]
    assert camera_status["bytes_out"] > 50_000_000  # the reading viewer alone got this much
    assert len(received.binary) == sent          # the reading viewer lost nothing
    assert skipped > sent // 2                   # the stalled one was skipping most frames
    assert max(rss) - rss[1] < 50, rss           # memory stayed bounded
