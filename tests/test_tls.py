"""TLS (issue 11): the three ports over https/wss with a certificate the tests make themselves.

A test CA and leaf certificates for 127.0.0.1, localhost and cams.test are made with the openssl
command. Every client checks them for real: Python against the CA, ffprobe with ``-ca_file``,
the mock camera with ``--cafile``, and Chromium, which trusts the leaves by their public keys
(``--ignore-certificate-errors-spki-list``) and reaches the server as ``https://cams.test``
(``--host-resolver-rules``), a name that is a secure context only through TLS (127.0.0.1 and
localhost count as secure even over http).

The renewal tests lay the files out as certbot does (``live/`` symlinks to ``archive/`` files
that each renewal adds) and swap the links while viewers play.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, ffprobe_path, free_port
from test_end_to_end import wait_until
from test_pages import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, assert_moving, frames, wait_frames

from camserver.access import tls

HOST = "cams.test"   # Chromium maps it to 127.0.0.1


# -- a test PKI (openssl CLI) -------------------------------------------------------------------


def openssl(*args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], input=input, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


class Leaf:
    def __init__(self, cert: Path, key: Path, fullchain: Path):
        self.cert, self.key, self.fullchain = cert, key, fullchain
        der = ssl.PEM_cert_to_DER_cert(cert.read_text())
        self.sha256 = hashlib.sha256(der).hexdigest()
        self.common_name = openssl("x509", "-in", str(cert), "-noout", "-subject",
                                   "-nameopt", "multiline").decode().split("commonName")[1] \
            .split("=", 1)[1].strip()
        public = openssl("x509", "-in", str(cert), "-pubkey", "-noout")
        spki = openssl("pkey", "-pubin", "-outform", "der", input=public)
        #: What Chromium's --ignore-certificate-errors-spki-list takes.
        self.spki = base64.b64encode(hashlib.sha256(spki).digest()).decode()


class Pki:
    """A CA and leaves signed by it, in ``directory``."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca = directory / "ca.pem"
        self.ca_key = directory / "ca.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "30",
                "-subj", "/CN=camserver test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(self, name: str, serial: int) -> Leaf:
        key, csr = self.dir / f"{name}.key", self.dir / f"{name}.csr"
        cert, ext = self.dir / f"{name}.pem", self.dir / f"{name}.ext"
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        ext.write_text(f"subjectAltName=DNS:{HOST},DNS:localhost,IP:127.0.0.1\n"
                       "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                "-set_serial", str(serial), "-days", "30", "-extfile", str(ext),
                "-out", str(cert))
        key.chmod(0o600)
        fullchain = self.dir / f"{name}-fullchain.pem"
        fullchain.write_text(cert.read_text() + self.ca.read_text())
        return Leaf(cert, key, fullchain)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = Pki(tmp_path_factory.mktemp("pki"))
    pki.leaves = [pki.leaf("cams-leaf-1", 0x1001), pki.leaf("cams-leaf-2", 0x1002)]
    return pki


class CertbotLayout:
    """``live/fullchain.pem`` and ``live/privkey.pem``: symlinks into ``archive/``, as certbot
    keeps them; :meth:`renew` adds the next pair to the archive and turns the links to it."""

    def __init__(self, directory: Path, leaf: Leaf):
        self.live, self.archive = directory / "live", directory / "archive"
        self.live.mkdir()
        self.archive.mkdir()
        self.cert, self.key = self.live / "fullchain.pem", self.live / "privkey.pem"
        self.generation = 0
        self.renew(leaf)

    def renew(self, leaf: Leaf, key: Path | None = None) -> None:
        self.generation += 1
        cert = self.archive / f"fullchain{self.generation}.pem"
        new_key = self.archive / f"privkey{self.generation}.pem"
        shutil.copyfile(leaf.fullchain, cert)
        shutil.copyfile(key or leaf.key, new_key)
        for link, target in ((self.cert, cert), (self.key, new_key)):
            temporary = link.with_suffix(".new")
            os.symlink(os.path.relpath(target, link.parent), temporary)
            os.replace(temporary, link)  # one atomic rename per link, as certbot does


# -- clients ------------------------------------------------------------------------------------


def client_context(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


def served_certificate(port: int, pki: Pki, server_name: str | None = None) -> str:
    """The sha256 of the certificate a new TLS connection to ``port`` gets (checked against the
    CA); without ``server_name`` the client sends no SNI, as for https://127.0.0.1."""
    context = client_context(pki)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name or "127.0.0.1") as conn:
            return hashlib.sha256(conn.getpeercert(binary_form=True)).hexdigest()


def https_json(url: str, pki: Pki) -> dict:
    with urllib.request.urlopen(url, context=client_context(pki), timeout=10) as response:
        return json.load(response)


class WssViewer:
    """A viewer of ``url`` over wss in a thread: counts the messages of its one connection."""

    def __init__(self, url: str, pki: Pki):
        self.url, self.pki = url, pki
        self.messages = 0
        self.peer_sha256: str | None = None
        self.error: BaseException | None = None
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        try:
            async with connect(self.url, ssl=client_context(self.pki), max_size=None,
                               compression=None) as ws:
                self.connections += 1
                der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
                self.peer_sha256 = hashlib.sha256(der).hexdigest()
                while not self._stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), 0.5)
                    except asyncio.TimeoutError:
                        continue
                    self.messages += 1
        except BaseException as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def wss_viewer():
    viewers: list[WssViewer] = []

    def start(url: str, pki: Pki) -> WssViewer:
        viewer = WssViewer(url, pki)
        viewers.append(viewer)
        return viewer

    yield start
    for viewer in viewers:
        viewer.stop()


# -- Chromium -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_browser(pki):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium; ./test.sh installs it)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright
    trusted = ",".join(leaf.spki for leaf in pki.leaves)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={trusted}",
                  f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def tls_page(tls_browser):
    """Factory: a new page; ``page.sockets`` lists the WebSocket URLs it opened."""
    contexts, errors = [], []

    def make():
        context = tls_browser.new_context(viewport={"width": 1000, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.sockets = []
        page.on("websocket", lambda ws: page.sockets.append(ws.url))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# -- helpers ------------------------------------------------------------------------------------


def start_tls_server(start_server, cert: Path, key: Path, *args: str):
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key), *args)
    server.https = lambda path="/": f"https://{HOST}:{server.http_port}{path}"
    server.local_https = lambda path="/": f"https://127.0.0.1:{server.http_port}{path}"
    return server


def camera_online(server, pki: Pki, camera: str = "cam1") -> bool:
    cameras = https_json(server.local_https("/status"), pki)["cameras"]
    return any(c["id"] == camera and c["online"] and c["frames_encoded"] for c in cameras)


def start_wss_camera(start_camera, server, pki: Pki, camera: str = "cam1"):
    cam = start_camera(f"wss://127.0.0.1:{server.camera_port}", "--camera-id", camera, "--mark",
                       "--cafile", str(pki.ca))
    wait_until(lambda: camera_online(server, pki, camera), timeout=30)
    return cam


# -- start-up errors ----------------------------------------------------------------------------


def _bad_files(pki: Pki, where: Path) -> dict:
    """name -> (args, the error line's expected text)."""
    leaf, other = pki.leaves
    text = where / "notes.txt"
    text.write_text("not a certificate\n")
    damaged = where / "damaged.pem"
    damaged.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    encrypted = where / "encrypted.key"
    openssl("pkey", "-in", str(leaf.key), "-aes256", "-passout", "pass:secret",
            "-out", str(encrypted))
    unreadable = where / "unreadable.key"
    shutil.copyfile(leaf.key, unreadable)
    unreadable.chmod(0)
    cert, key = str(leaf.cert), str(leaf.key)
    return {
        "missing-cert": (["--tls-cert", str(where / "nope.pem"), "--tls-key", key],
                         f"TLS certificate {where / 'nope.pem'} (--tls-cert): no such file"),
        "missing-key": (["--tls-cert", cert, "--tls-key", str(where / "nope.key")],
                        f"TLS key {where / 'nope.key'} (--tls-key): no such file"),
        "key-without-cert": (["--tls-key", key], "--tls-key was given without --tls-cert"),
        "cert-without-key": (["--tls-cert", cert], "holds no private key: give it with "
                                                   "--tls-key"),
        "not-pem": (["--tls-cert", str(text), "--tls-key", key],
                    "no PEM certificate (-----BEGIN CERTIFICATE-----) in it"),
        "damaged-pem": (["--tls-cert", str(damaged), "--tls-key", key],
                        "certificate 1 in it cannot be read"),
        "swapped": (["--tls-cert", key, "--tls-key", cert],
                    "are --tls-cert and --tls-key swapped?"),
        "mismatch": (["--tls-cert", cert, "--tls-key", str(other.key)],
                     f"TLS key {other.key} (--tls-key) does not belong to the certificate "
                     f"{cert} (--tls-cert)"),
        "encrypted-key": (["--tls-cert", cert, "--tls-key", str(encrypted)],
                          "is protected by a passphrase"),
        "directory": (["--tls-cert", str(where), "--tls-key", key],
                      "is a directory, not a PEM file"),
        "unreadable-key": (["--tls-cert", cert, "--tls-key", str(unreadable)],
                           f"TLS key {unreadable} (--tls-key): permission denied"),
    }


BAD_CASES = ["missing-cert", "missing-key", "key-without-cert", "cert-without-key", "not-pem",
             "damaged-pem", "swapped", "mismatch", "encrypted-key", "directory",
             "unreadable-key"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_certificate_or_key_is_one_clear_line_and_exit_code_2(case, pki, tmp_path):
    args, expected = _bad_files(pki, tmp_path)[case]
    command = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1",
               *(arg for port in ("--http-port", "--camera-port", "--viewer-port")
                 for arg in (port, str(free_port()))), *args]
    if os.geteuid() == 0:
        # Root reads any file; without these two capabilities it obeys the file's mode bits.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)  # an encrypted key must not prompt
    output = done.stdout + done.stderr
    lines = output.strip().splitlines()
    assert done.returncode == 2, output
    assert len(lines) == 1 and " ERROR camserver: " in lines[0], output
    assert expected in lines[0], output
    assert "Traceback" not in output


# -- the three ports over TLS -------------------------------------------------------------------


@pytest.mark.parametrize("kind,via", [("h264", "http-port"), ("mjpeg", "http-port"),
                                      ("h264", "viewer-port")])
def test_pages_play_over_https_and_wss_in_chromium(kind, via, pki, start_server, start_camera,
                                                   tls_page):
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key)
    start_wss_camera(start_camera, server, pki)
    page = tls_page()
    path = "/" if kind == "h264" else "/mjpeg"
    query = "camera=cam1" + (f"&ws_host={HOST}&ws_port={server.viewer_port}"
                             if via == "viewer-port" else "")
    response = page.goto(server.https(f"{path}?{query}"))
    assert response.ok
    assert response.security_details()["subjectName"] == leaf.common_name
    # cams.test is no loopback name: only a trusted https page is a secure context.
    assert page.evaluate("[location.protocol, window.isSecureContext]") == ["https:", True]
    wait_frames(page, 10)
    # A secure context: the H.264 page takes WebCodecs by itself (fMP4 without repeats).
    if kind == "h264":
        assert page.evaluate("document.body.dataset.path") == "webcodecs"
    assert_moving(page, "webcodecs" if kind == "h264" else kind)
    port = server.http_port if via == "http-port" else server.viewer_port
    fmt = "fmp4&repeats=0" if kind == "h264" else "mjpeg"
    prefix = "/ws" if via == "http-port" else ""
    assert page.sockets == [f"wss://{HOST}:{port}{prefix}/cam1?format={fmt}"]


def test_ffprobe_decodes_the_https_ts_stream_checked_against_the_ca(pki, start_server,
                                                                    start_camera):
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key)
    start_wss_camera(start_camera, server, pki)
    url = f"https://localhost:{server.http_port}/stream/cam1.ts"
    probe = [ffprobe_path(), "-v", "error", "-tls_verify", "1", "-read_intervals", "%+3",
             "-count_frames", "-select_streams", "v:0", "-show_entries",
             "stream=codec_name,width,height,nb_read_frames", "-of", "json"]
    done = subprocess.run([*probe, "-ca_file", str(pki.ca), url], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stream = json.loads(done.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 480)
    assert int(stream["nb_read_frames"]) >= 30, stream
    # The check is real: without the CA, ffprobe refuses the server.
    refused = subprocess.run([*probe, url], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and not refused.stdout.strip("{}\n "), refused


def test_camera_streams_over_wss_and_checks_the_servers_certificate(pki, start_server,
                                                                    start_camera, wss_viewer):
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key)
    assert (f"TLS on the HTTP port {server.http_port} (https), viewer port "
            f"{server.viewer_port} (wss), camera port {server.camera_port} (wss)") in server.log()
    # A camera that does not trust the certificate (the system's CAs only) is refused by its
    # own check, and never connects.
    untrusting = start_camera(f"wss://127.0.0.1:{server.camera_port}", "--camera-id", "cam2")
    start_wss_camera(start_camera, server, pki)
    viewer = wss_viewer(f"wss://127.0.0.1:{server.viewer_port}/cam1?format=ts", pki)
    wait_until(lambda: viewer.messages >= 30 or viewer.error, timeout=30)
    assert viewer.error is None and viewer.peer_sha256 == leaf.sha256
    out = untrusting.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in out, out
    assert [c["id"] for c in https_json(server.local_https("/status"), pki)["cameras"]] == \
        ["cam1"]
    for port in (server.http_port, server.viewer_port, server.camera_port):
        assert served_certificate(port, pki) == leaf.sha256


def test_no_camera_tls_keeps_the_camera_port_plain_and_the_others_tls(pki, start_server,
                                                                      start_camera, wss_viewer):
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key, "--no-camera-tls")
    assert (f"TLS on the HTTP port {server.http_port} (https), viewer port "
            f"{server.viewer_port} (wss); the camera port {server.camera_port} stays plain "
            "ws://") in server.log()
    start_camera(server.camera_url(), "--camera-id", "cam1")  # ws://
    wait_until(lambda: camera_online(server, pki), timeout=30)
    viewer = wss_viewer(f"wss://127.0.0.1:{server.viewer_port}/cam1?format=ts", pki)
    wait_until(lambda: viewer.messages >= 30 or viewer.error, timeout=30)
    assert viewer.error is None
    # The HTTP and viewer ports speak only TLS, the camera port only plain WebSocket.
    for port in (server.http_port, server.viewer_port):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10).read()
    with pytest.raises(ssl.SSLError):
        served_certificate(server.camera_port, pki)


def run_apart(coroutine):
    """``asyncio.run`` in a thread of its own: Playwright's sync API (the module's browser)
    keeps an event loop running in this one."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def stalled_tls_viewer(port: int, request: str, pki: Pki) -> ssl.SSLSocket:
    """A client that completes the TLS handshake, sends ``request`` and never reads again."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(request.encode())
    return conn


def upgrade(path: str) -> str:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n")


def test_stalled_tls_viewers_are_dropped_and_a_reading_one_loses_nothing(pki, start_server,
                                                                          wss_viewer):
    """Under TLS the unsent bytes sit in the SSL layer, not in the socket's buffer: the stall
    and slow-viewer rules must still see them, on all three kinds of viewer."""
    from helpers import ScriptedCamera, noise_jpeg
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key, "--no-camera-tls",
                              "--viewer-stall-timeout", "3", "--bitrate", "40M")
    frames_ = [noise_jpeg(seed) for seed in range(30)]
    reader = wss_viewer(f"wss://127.0.0.1:{server.viewer_port}/s?format=ts", pki)

    def dropped() -> int:
        return https_json(server.local_https("/status"), pki)["server"]["viewers_dropped_stalled"]

    async def camera() -> tuple[int, float | None]:
        sent, dropped_at, stalled = 0, None, []
        async with ScriptedCamera(server.camera_url("s")) as cam:
            start = time.monotonic()
            while time.monotonic() - start < 12:
                await cam.send(frames_[sent % 30])
                sent += 1
                if sent == 15:  # the stream exists: the stalled viewers come
                    stalled = [
                        stalled_tls_viewer(server.viewer_port, upgrade("/s?format=ts"), pki),
                        stalled_tls_viewer(server.http_port, upgrade("/ws/s?format=ts"), pki),
                        stalled_tls_viewer(server.http_port, "GET /stream/s.ts HTTP/1.1\r\n"
                                           "Host: 127.0.0.1\r\n\r\n", pki)]
                    stalled_at = time.monotonic()
                await asyncio.sleep(1 / 30)
                if dropped_at is None and stalled and sent % 15 == 0 \
                        and await asyncio.to_thread(dropped) == 3:
                    dropped_at = time.monotonic() - stalled_at
            await asyncio.sleep(1)
        for conn in stalled:
            conn.close()
        return sent, dropped_at

    sent, dropped_at = run_apart(camera())
    wait_until(lambda: reader.messages >= sent or reader.error, timeout=10)
    assert reader.error is None
    assert dropped_at is not None and dropped_at < 3 + 5, dropped_at  # timeout + filling buffers
    assert reader.messages == sent and reader.connections == 1   # the reading viewer lost nothing
    assert server.log().count("took nothing of its") == 1, server.log()  # one line, rate-limited
    assert "Traceback" not in server.log()


def test_a_client_that_never_completes_the_tls_handshake_is_closed_after_the_http_timeout(
        pki, start_server):
    leaf = pki.leaves[0]
    server = start_tls_server(start_server, leaf.fullchain, leaf.key, "--http-timeout", "2")
    ports = (server.http_port, server.viewer_port, server.camera_port)
    silent = [socket.create_connection(("127.0.0.1", port), timeout=20) for port in ports]
    began = time.monotonic()
    for sock in silent:
        with sock:
            try:
                assert sock.recv(1) == b""  # closed by the server (asyncio's default: 60 s)
            except ConnectionResetError:
                pass
    assert time.monotonic() - began < 2 + 6
    # The server still serves a client that does complete it.
    assert https_json(server.local_https("/status"), pki)["camera_clients"] == 0


def test_a_certificate_near_its_end_gets_a_warning_when_loaded(pki, tmp_path, caplog):
    key, cert = tmp_path / "short.key", tmp_path / "short.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "3", "-subj", "/CN=short")
    certificate = tls.ServerCertificate(str(cert), str(key))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("The TLS certificate expires in 2 days")
    assert certificate.current.subject == "commonName=short"


# -- renewal ------------------------------------------------------------------------------------


def reloaded_line(server, leaf: Leaf, start: int = 0, timeout: float = 30):
    serial = {"cams-leaf-1": "1001", "cams-leaf-2": "1002"}[leaf.common_name]
    return server.wait_for_log(rf"TLS certificate reloaded from .*serial {serial}",
                               timeout=timeout, start=start)


def test_a_renewed_certificate_is_picked_up_while_viewers_keep_playing(
        pki, tmp_path, start_server, start_camera, tls_page, wss_viewer):
    old, new = pki.leaves
    files = CertbotLayout(tmp_path, old)
    server = start_tls_server(start_server, files.cert, files.key)
    start_wss_camera(start_camera, server, pki)
    page = tls_page()
    page.goto(server.https("/?camera=cam1"))
    wait_frames(page, 10)
    viewer = wss_viewer(f"wss://127.0.0.1:{server.viewer_port}/cam1?format=ts", pki)
    wait_until(lambda: viewer.messages >= 10 or viewer.error, timeout=30)
    assert viewer.peer_sha256 == old.sha256

    files.renew(new)  # a new certificate with a new key, as certbot makes by default
    reloaded_line(server, new)
    for port in (server.http_port, server.viewer_port, server.camera_port):
        assert served_certificate(port, pki) == new.sha256                # no SNI (an address)
        assert served_certificate(port, pki, "localhost") == new.sha256   # with SNI

    # The viewers connected before the renewal carry on, on their first connection.
    shown, received = frames(page), viewer.messages
    wait_frames(page, shown + 60)
    wait_until(lambda: viewer.messages >= received + 60 or viewer.error, timeout=30)
    assert viewer.error is None and viewer.connections == 1
    assert page.sockets == [f"wss://{HOST}:{server.http_port}/ws/cam1?format=fmp4&repeats=0"]
    assert page.evaluate("document.body.dataset.state") == "live"
    # A page opened now gets the new certificate and plays.
    second = tls_page()
    response = second.goto(server.https("/mjpeg?camera=cam1"))
    assert response.security_details()["subjectName"] == new.common_name
    wait_frames(second, 10)


def test_a_bad_renewal_is_logged_once_and_the_previous_certificate_kept(
        pki, tmp_path, start_server, start_camera, wss_viewer):
    old, new = pki.leaves
    files = CertbotLayout(tmp_path, old)
    server = start_tls_server(start_server, files.cert, files.key)
    start_wss_camera(start_camera, server, pki)
    viewer = wss_viewer(f"wss://127.0.0.1:{server.viewer_port}/cam1?format=ts", pki)
    wait_until(lambda: viewer.messages >= 10 or viewer.error, timeout=30)

    files.renew(new, key=old.key)  # the new certificate with a key that is not its own
    server.wait_for_log(r"ERROR .*does not belong to the certificate .*; keeping the previous "
                        r"certificate", timeout=30)
    # Watch five more checks of the files: the same bad pair is not logged again.
    time.sleep(5 * tls.CHECK_SECONDS)
    assert server.log().count("does not belong to the certificate") == 1, server.log()
    for port in (server.http_port, server.viewer_port, server.camera_port):
        assert served_certificate(port, pki) == old.sha256

    files.renew(new)  # fixed
    reloaded_line(server, new)
    assert served_certificate(server.http_port, pki) == new.sha256
    received = viewer.messages
    wait_until(lambda: viewer.messages >= received + 30 or viewer.error, timeout=30)
    assert viewer.error is None and viewer.connections == 1
    assert "Traceback" not in server.log()


# -- ServerCertificate on its own (no server, no sockets) ---------------------------------------


class Pair:
    """A certificate and key at fixed paths whose contents tests replace."""

    def __init__(self, directory: Path, leaf: Leaf):
        self.cert, self.key = directory / "cert.pem", directory / "key.pem"
        self.put(leaf)

    def put(self, leaf: Leaf, key: Path | None = None) -> None:
        for source, target in ((leaf.fullchain, self.cert), (key or leaf.key, self.key)):
            temporary = target.with_suffix(".tmp")
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)


def presented(certificate: tls.ServerCertificate, pki: Pki) -> str:
    """What the listeners' context presents to a new client that sends no SNI (over memory
    buffers: a real handshake, no socket)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context(pki).wrap_bio(c_in, c_out, server_hostname="127.0.0.1")  # no SNI
    server = certificate.context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):
        done = True
        for me in (client, server):
            try:
                me.do_handshake()
            except ssl.SSLWantReadError:
                done = False
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if done:
            break
    return hashlib.sha256(client.getpeercert(binary_form=True)).hexdigest()


def test_server_certificate_takes_a_new_pair_once_it_stays_the_same_for_a_check(pki, tmp_path,
                                                                               caplog):
    old, new = pki.leaves
    pair = Pair(tmp_path, old)
    certificate = tls.ServerCertificate(str(pair.cert), str(pair.key))
    assert presented(certificate, pki) == old.sha256
    assert certificate.check() is False  # nothing changed

    pair.put(new)
    assert certificate.check() is False   # first look: maybe still being written
    assert presented(certificate, pki) == old.sha256
    assert certificate.check() is True    # the same files a check later: taken
    assert presented(certificate, pki) == new.sha256
    assert certificate.reloads == 1

    pair.put(new)  # the same pair written again: new inodes, nothing new to serve
    assert not certificate.check() and not certificate.check()
    assert certificate.reloads == 1

    pair.put(old, key=new.key)  # a key that does not match: logged once, old pair kept
    caplog.clear()
    for _ in range(5):
        assert certificate.check() is False
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "does not belong" in errors[0].getMessage(), caplog.text
    assert certificate.last_error and presented(certificate, pki) == new.sha256

    pair.cert.unlink()  # certificate gone: also kept, logged once
    caplog.clear()
    for _ in range(4):
        certificate.check()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"TLS certificate {pair.cert} (--tls-cert): no such file; keeping the previous "
        f"certificate ({certificate.current.sha256})"]
    assert presented(certificate, pki) == new.sha256

    pair.put(old)
    certificate.check()
    assert certificate.check() is True and presented(certificate, pki) == old.sha256
    assert certificate.last_error is None


def test_server_certificate_reads_a_key_from_the_certificate_file(pki, tmp_path):
    leaf = pki.leaves[0]
    combined = tmp_path / "combined.pem"
    combined.write_text(leaf.cert.read_text() + leaf.key.read_text())
    certificate = tls.ServerCertificate.from_settings(str(combined), None)
    assert presented(certificate, pki) == leaf.sha256
    assert tls.ServerCertificate.from_settings(None, None) is None


# -- behind a reverse proxy: TLS at the proxy, a path prefix, a login ------------------------------


NGINX = "/usr/sbin/nginx"
CADDY = "/usr/bin/caddy"

NGINX_CONF = """\
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{site}
    }}
}}
"""

CADDYFILE = """\
{{
\tadmin off
\tauto_https off
\tstorage file_system {dir}/data
}}

https://{host}:{port}, https://localhost:{port} {{
\tbind 127.0.0.1
\ttls {cert} {key}
{site}
}}
"""


def readme_block(marker: str) -> str:
    """The proxy lines the README shows (between ``# <marker>: begin/end`` comments), used as
    they are: the test checks what a reader copies."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"# {marker}: begin")
    start = readme.index("\n", start) + 1
    return readme[start:readme.index(f"# {marker}: end", start)].rstrip() + "\n"


@pytest.fixture
def reverse_proxy(tmp_path):
    """Factory: ``reverse_proxy(kind, upstream_port, leaf)`` -> the port of an nginx or Caddy
    serving the README's lines over TLS with ``leaf``; stopped at teardown."""
    processes = []

    def start(kind: str, upstream: int, leaf: Leaf) -> int:
        binary = {"nginx": NGINX, "caddy": CADDY}[kind]
        if not os.path.exists(binary):
            package = {"nginx": "nginx-light", "caddy": "caddy"}[kind]
            pytest.fail(f"{binary} is missing (apt-get install -y {package}; ./test.sh "
                        "installs it)", pytrace=False)
        port = free_port()
        directory = tmp_path / kind
        directory.mkdir()
        site = readme_block(f"{kind} site").replace("127.0.0.1:8080", f"127.0.0.1:{upstream}")
        log = directory / "proxy.log"
        if kind == "nginx":
            conf = directory / "nginx.conf"
            conf.write_text(NGINX_CONF.format(dir=directory, port=port, cert=leaf.fullchain,
                                              key=leaf.key, http=readme_block("nginx http"),
                                              site=site))
            command = [NGINX, "-c", str(conf), "-p", str(directory), "-e", str(log)]
            env = None
        else:
            conf = directory / "Caddyfile"
            conf.write_text(CADDYFILE.format(dir=directory, host=HOST, port=port,
                                             cert=leaf.fullchain, key=leaf.key, site=site))
            command = [CADDY, "run", "--config", str(conf), "--adapter", "caddyfile"]
            # Caddy keeps state under $HOME / XDG directories: the test's own.
            env = {**os.environ, "HOME": str(directory), "XDG_DATA_HOME": str(directory),
                   "XDG_CONFIG_HOME": str(directory)}
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        processes.append(process)

        def listening() -> bool:
            assert process.poll() is None, log.read_text()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0
        wait_until(listening, timeout=20)
        return port

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_behind_a_reverse_proxy_with_tls_under_a_path_prefix_a_login_and_both_pages_play(
        kind, pki, tmp_path, start_server, start_camera, tls_page, reverse_proxy):
    from camserver.access.passwords import hash_password
    config = tmp_path / "camserver.toml"
    config.write_text(f'[[user]]\nname = "alice"\npassword = "{hash_password("s3cret pw")}"\n'
                      'allow = ["read:*"]\n')
    config.chmod(0o600)
    # Plain HTTP behind the proxy; the proxy's forwarded headers are believed.
    server = start_server("--config", str(config), "--trusted-proxies", "127.0.0.1",
                          "--camera-token", "camera-secret", "--state-dir",
                          str(tmp_path / "state"))
    start_camera(server.camera_url("cam1") + "?token=camera-secret", "--mark")
    port = reverse_proxy(kind, server.http_port, pki.leaves[0])
    base = f"https://{HOST}:{port}/cams/"
    # /cams without its slash is sent to /cams/ (nginx by itself, Caddy by the redir line).
    plain = http.client.HTTPSConnection("localhost", port, context=client_context(pki),
                                        timeout=10)
    plain.request("GET", "/cams")
    answer = plain.getresponse()
    assert answer.status in (301, 302) and answer.getheader("Location").endswith("/cams/")
    plain.close()

    page = tls_page()
    page.goto(base + "?camera=cam1")
    # Not logged in: sent to the login page under the prefix, and back after it.
    page.wait_for_url(f"{base}login?**")
    page.fill("#name", "alice")
    page.fill("#password", "s3cret pw")
    page.click("button[type=submit]")
    page.wait_for_url(base + "?camera=cam1")
    assert page.evaluate("[location.protocol, window.isSecureContext]") == ["https:", True]
    wait_frames(page, 10)
    assert_moving(page, "webcodecs")
    cookie, = page.context.cookies()
    # X-Forwarded-Proto from the trusted proxy makes the session cookie Secure.
    assert (cookie["name"], cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == \
        ("camserver_session", True, True, "Strict")
    mjpeg = page.context.new_page()
    mjpeg.on("websocket", lambda ws: page.sockets.append(ws.url))
    mjpeg.goto(base + "mjpeg?camera=cam1")
    wait_frames(mjpeg, 10)
    assert_moving(mjpeg, "mjpeg")
    assert page.sockets == [f"wss://{HOST}:{port}/cams/ws/cam1?format=fmp4&repeats=0",
                            f"wss://{HOST}:{port}/cams/ws/cam1?format=mjpeg"]
    server.wait_for_log("alice logged in from 127.0.0.1")
    # The stream URL through the proxy, with Basic credentials, as VLC or ffmpeg send them.
    probe = subprocess.run(
        [ffprobe_path(), "-v", "error", "-tls_verify", "1", "-ca_file", str(pki.ca),
         "-read_intervals", "%+2", "-show_entries", "stream=codec_name,width,height", "-of",
         "csv=p=0", f"https://alice:s3cret%20pw@localhost:{port}/cams/stream/cam1.ts"],
        capture_output=True, text=True, timeout=60)
    # (a TS lists its stream twice: in its program and on its own)
    assert set(probe.stdout.split()) == {"h264,640,480"}, probe.stderr
