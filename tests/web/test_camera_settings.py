"""Camera settings for the pages: /api/cameras gives a camera's settings and choices to callers
who may ``control`` it (and only to them), and the camera's answers reach their viewers."""

import asyncio
import base64
import json
import urllib.error
import urllib.request

from websockets.asyncio.client import connect

from helpers import ScriptedCamera, make_jpeg
from test_end_to_end import wait_until

CONFIG = """
[anonymous]
allow = ["publish"]

[[user]]
name = "alice"
password = "alice-secret"
allow = ["read:*", "control:*"]

[[user]]
name = "bob"
password = "bob-secret"
allow = ["read:*"]
"""

HELLO = {"type": "hello", "board": "test", "fps": 10, "width": 320, "height": 240,
         "framesize": "QVGA", "quality": 80, "vflip": False, "hmirror": False,
         "choices": {"framesize": ["QVGA", "VGA"], "quality": {"min": 1, "max": 100},
                     "fps": {"min": 1, "max": 30}, "vflip": [False, True],
                     "hmirror": [False, True]}}


def basic(user: str) -> dict:
    token = base64.b64encode(f"{user}:{user}-secret".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def request(server, path: str, user: str, body: dict | None = None):
    req = urllib.request.Request(
        server.http_url(path), data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={**basic(user), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def listed(server, user: str) -> dict:
    code, listing = request(server, "/api/cameras", user)
    assert code == 200, listing
    return {camera["id"]: camera for camera in listing["cameras"]}


def test_settings_and_answers_reach_only_those_who_may_control_the_camera(start_server,
                                                                          tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    server = start_server("--config", str(config))

    async def viewer(user: str, fmt: str, texts: list, ready: asyncio.Event):
        url = f"ws://127.0.0.1:{server.viewer_port}/desk?format={fmt}"
        async with connect(url, additional_headers=basic(user), max_size=None) as ws:
            ready.set()
            async for message in ws:
                if isinstance(message, str):
                    texts.append(json.loads(message))

    async def scenario():
        async with ScriptedCamera(server.camera_url("desk")) as camera:
            await camera.send(json.dumps(HELLO))
            await camera.send(make_jpeg(320, 240))
            alice, bob = [], []
            ready = [asyncio.Event(), asyncio.Event()]
            tasks = [asyncio.create_task(viewer("alice", "fmp4", alice, ready[0])),
                     asyncio.create_task(viewer("bob", "mjpeg", bob, ready[1]))]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
            await asyncio.to_thread(wait_until, lambda: len(alice) and len(bob))
            before = await asyncio.to_thread(lambda: (listed(server, "alice"),
                                                      listed(server, "bob")))
            refused = await asyncio.to_thread(request, server, "/api/cameras/desk/config",
                                              "bob", {"fps": 5})
            sent = await asyncio.to_thread(request, server, "/api/cameras/desk/config",
                                           "alice", {"framesize": "VGA", "fps": 50})
            assert sent[0] == 400, sent  # the server checks ranges before the camera sees them
            sent = await asyncio.to_thread(request, server, "/api/cameras/desk/config",
                                           "alice", {"framesize": "VGA", "quality": 70})
            config_message = json.loads(await asyncio.wait_for(camera.ws.recv(), 5))
            await camera.send(json.dumps({"type": "config_ack",
                                          "applied": {"framesize": "VGA"},
                                          "rejected": {"quality": "not today"}}))
            await camera.send(json.dumps({**HELLO, "framesize": "VGA", "width": 640,
                                          "height": 480}))
            await asyncio.to_thread(wait_until, lambda: any(
                m["type"] == "settings" for m in alice))
            after = await asyncio.to_thread(listed, server, "alice")
            await asyncio.sleep(0.3)  # anything for bob would have come by now
            for task in tasks:
                task.cancel()
            return before, refused, sent, config_message, alice, bob, after

    before, refused, sent, config_message, alice, bob, after = asyncio.run(scenario())
    as_alice, as_bob = before[0]["desk"], before[1]["desk"]
    assert as_alice["actions"] == ["read", "control"] and as_bob["actions"] == ["read"]
    assert as_alice["settings"]["choices"] == HELLO["choices"]
    assert as_alice["settings"]["framesize"] == "QVGA"
    assert "settings" not in as_bob and "config_ack" not in as_bob
    for camera in (as_alice, as_bob):
        assert camera["online"] is True and camera["viewers"] == 2
        assert camera["fps"] is not None and (camera["width"], camera["height"]) == (320, 240)
    assert refused[0] == 403
    assert sent[0] == 202
    assert config_message == {"type": "config", "framesize": "VGA", "quality": 70}

    assert alice[0]["type"] == "stream" and alice[0]["control"] is True
    assert bob[0]["type"] == "stream" and bob[0]["control"] is False
    acks = [m for m in alice if m["type"] == "config_ack"]
    assert acks == [{"type": "config_ack", "camera": "desk", "applied": {"framesize": "VGA"},
                     "rejected": {"quality": "not today"}}]
    settings = [m for m in alice if m["type"] == "settings"]
    assert settings[-1]["camera"] == "desk" and settings[-1]["settings"]["framesize"] == "VGA"
    assert not [m for m in bob if m["type"] in ("config_ack", "settings")], bob
    assert after["desk"]["config_ack"] == {"applied": {"framesize": "VGA"},
                                           "rejected": {"quality": "not today"}}
    assert after["desk"]["settings"]["width"] == 640


def test_dashboard_page_is_served_to_readers_and_sends_others_to_login(start_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    server = start_server("--config", str(config))
    req = urllib.request.Request(server.http_url("/cameras"), headers=basic("bob"))
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 200 and b"static/dashboard.js" in response.read()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(server.http_url("/cameras"), timeout=10)
        raise AssertionError("an anonymous caller got the dashboard")
    except urllib.error.HTTPError as error:
        assert error.code == 302 and error.headers["Location"] == "login?next=cameras"


def test_after_logging_in_a_page_with_only_a_query_is_opened_not_the_login_page():
    from camserver.web.access import safe_next
    assert safe_next("?camera=desk") == "./?camera=desk"
    assert safe_next("mjpeg?camera=desk") == "mjpeg?camera=desk"
    assert safe_next("cameras") == "cameras"
    assert safe_next("//evil.example/") == "./" and safe_next("https://x/") == "./"
