"""Clients for the access tests: one HTTP request or one WebSocket handshake, over a real socket
from a chosen loopback address (127.0.0.0/8 is all this machine: each test row can have its own
address, so the per-address limit on failed attempts of one row never touches another), and
what came back, in one short line for tables (:func:`describe`)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


@dataclass
class Answer:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    #: WebSocket: the first binary message (media) within the wait, if any.
    media: bytes | None = None
    #: WebSocket: the close code, when the server closed it before any media.
    close_code: int | None = None

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


def basic(name: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def cookie(session_id: str) -> dict:
    return {"Cookie": f"camserver_session={session_id}"}


def http_request(port: int, method: str, path: str, headers: dict | None = None,
                 body: bytes | None = None, source: str = "127.0.0.1",
                 timeout: float = 10) -> Answer:
    """One request; a live stream (200 video/... or multipart/...) is read for 1 KB only."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        kind = response.getheader("Content-Type", "")
        live = response.status == 200 and kind.startswith(("video/", "multipart/"))
        data = response.read(1024) if live else response.read()
        return Answer(response.status, dict(response.getheaders()), data)
    finally:
        connection.close()


async def ws_attempt(url: str, headers: dict | None = None, source: str = "127.0.0.1",
                     wait: float = 5.0) -> Answer:
    """A WebSocket handshake; if accepted, wait up to ``wait`` s for the first binary message."""
    try:
        async with connect(url, additional_headers=headers, local_addr=(source, 0),
                           open_timeout=10, max_size=None, compression=None) as ws:
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = await asyncio.wait_for(ws.recv(), left)
                except asyncio.TimeoutError:
                    break
                except ConnectionClosed as closed:
                    return Answer(101, dict(ws.response.headers),
                                  close_code=closed.rcvd.code if closed.rcvd else None)
                if isinstance(message, bytes):
                    return Answer(101, dict(ws.response.headers), media=message)
            return Answer(101, dict(ws.response.headers))
    except InvalidStatus as refused:
        response = refused.response
        return Answer(response.status_code, dict(response.headers), response.body or b"")


def run(coroutine):
    """``asyncio.run`` in a thread of its own: Playwright's sync API keeps an event loop running
    in the test's thread for as long as its (module-scoped) browser lives, and asyncio.run
    refuses to start under a running loop."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def ws(url: str, headers: dict | None = None, source: str = "127.0.0.1",
       wait: float = 5.0) -> Answer:
    return run(ws_attempt(url, headers, source, wait))


def describe(answer: Answer) -> str:
    """The answer in a few words: ``302 login``, ``401 Basic``, ``403``, ``200 ts``,
    ``101 media``, ``close 1008``."""
    status = answer.status
    if status in (301, 302, 303, 307):
        return f"{status} {answer.header('Location').split('?')[0]}"
    if status == 401:
        challenge = answer.header("WWW-Authenticate").split(" ")[0]
        return f"401 {challenge}" if challenge else "401 no challenge"
    if status == 101:
        if answer.media is not None:
            return "101 media"
        return f"close {answer.close_code}" if answer.close_code else "101 no media"
    if status in (200, 202):
        kind = answer.header("Content-Type").split(";")[0]
        body = answer.body
        if kind == "video/mp2t":
            return f"{status} ts" if body[:1] == b"\x47" else f"{status} not ts"
        if kind.startswith("multipart/"):
            return f"{status} mjpeg" if b"--frame" in body else f"{status} not mjpeg"
        if kind == "image/jpeg":
            return f"{status} jpeg" if body[:2] == b"\xff\xd8" else f"{status} not jpeg"
        if kind == "application/json":
            try:
                json.loads(body)
                return f"{status} json"
            except ValueError:
                return f"{status} bad json"
        if kind == "text/html":
            return f"{status} html"
        return f"{status} {kind}"
    return str(status)
