"""Drive Firefox ESR and WebKitGTK (and Chromium) from tests, with nothing downloaded at run time.

One small interface for every engine, so any page test can run in each:

    with launch("firefox") as browser:           # or "webkit", "chromium"
        page = browser.page                      # one tab, desktop size (1000x800)
        page.goto(url)
        page.wait_for("window.liveStats && window.liveStats.frames > 10")
        page.evaluate("document.title")          # any JSON-able expression
        page.set_viewport(*PHONE)                # 390x844 CSS px
        page.screenshot(path)                    # the whole page, a PIL image
        page.element_shot("video")               # one element, as displayed

- **Firefox ESR** (Debian's ``firefox-esr``; H.264 from the system ``libavcodec59``) is driven
  over WebDriver BiDi, which Firefox serves itself (``--remote-debugging-port``): no geckodriver
  (not packaged in Debian; its npm and PyPI packages download it), no Node. The BiDi client is a
  plain ``websockets`` connection, which sends no ``Origin`` header (Firefox refuses a handshake
  that has one). ``MOZ_DISABLE_NONLOCAL_CONNECTIONS=1`` keeps Firefox from resolving outside
  host names at start.
- **WebKitGTK** (Debian's ``webkit2gtk-driver``: ``WebKitWebDriver`` and MiniBrowser; H.264 from
  ``gstreamer1.0-libav``) is driven by Selenium. It needs an X display: the harness starts its
  own ``Xvfb`` on a free display (``-displayfd``); without a display Selenium hangs silently.

- **Chromium** (Debian's ``chromium``) through Playwright, as ``test_pages.py`` drives it; here
  behind the same interface, for tests that shoot the same pages in all three engines.

Uncaught page errors are collected in ``page.errors`` (Firefox: BiDi ``log.entryAdded``; WebKit
has no log API over WebDriver, so a listener is added after each load and early errors are
missed).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

DESKTOP = (1000, 800)
PHONE = (390, 844)
TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0  # one WebDriver command; scripts themselves time out after 30 s

FIREFOX = "/usr/bin/firefox-esr"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]

ENGINES = ("firefox", "webkit")  # beside Chromium, which test_pages.py covers in depth
ALL_ENGINES = ("chromium", *ENGINES)
# What each engine needs from Debian, for the error message when it is missing (test.sh
# installs these).
PACKAGES = {
    "chromium": (CHROMIUM, "chromium"),
    "firefox": (FIREFOX, "firefox-esr libavcodec59"),
    "webkit": (WEBKIT_DRIVER, "webkit2gtk-driver xvfb gstreamer1.0-libav"),
}


class EngineError(RuntimeError):
    pass


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot run here (with the packages to install), or None."""
    binary, packages = PACKAGES[engine]
    needed = [binary] + ([XVFB] if engine == "webkit" else [])
    absent = [path for path in needed if not os.path.exists(path)]
    if absent:
        return (f"{', '.join(absent)} missing: apt-get install -y --no-install-recommends "
                f"{packages} (./test.sh installs them)")
    return None


class Page:
    """One browser tab. Subclasses implement _evaluate, _navigate, _viewport_png, _resize."""

    engine = ""
    version = ""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.viewport = DESKTOP

    # -- the interface ---------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Load ``url`` and wait until its document has loaded."""
        self._navigate(url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression, passed through JSON (undefined -> None)."""
        text = self._evaluate(f"JSON.stringify(({expression}))")
        return None if text is None else json.loads(text)

    def wait_for(self, expression: str, timeout: float = TIMEOUT, interval: float = 0.1):
        """Poll ``expression`` until it is truthy; returns its value. Fails with the last value
        after ``timeout`` seconds (the browser is asked; no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.engine}: timed out after {timeout} s waiting for "
                                     f"{expression!r} (last value {value!r})")
            time.sleep(interval)

    def set_viewport(self, width: int, height: int) -> None:
        """Make the page's viewport ``width`` x ``height`` CSS pixels (layout is redone)."""
        self._resize(width, height)
        self.viewport = (width, height)
        self.wait_for(f"innerWidth === {width} && innerHeight === {height}", timeout=10)
        self.settle()

    def settle(self) -> None:
        """Wait until the page has painted twice more (after a resize or a scroll: WebKit's
        screenshots otherwise show what was painted before)."""
        self.evaluate("(window.__painted = 0, requestAnimationFrame(() => "
                      "requestAnimationFrame(() => { window.__painted = 1; })), 0)")
        self.wait_for("window.__painted === 1", timeout=10, interval=0.02)

    def screenshot(self, path: str | Path | None = None) -> Image.Image:
        """The whole page, saved to ``path``. A page taller than the viewport is scrolled
        through and stitched, so a live page's parts come from moments a few frames apart."""
        image = self._full_page()
        if path is not None:
            image.save(path)
        return image

    def element_shot(self, selector: str) -> Image.Image:
        """What the element matched by ``selector`` shows now (it must be in the viewport)."""
        image = self._viewport_shot()
        rect = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                             ".getBoundingClientRect(); "
                             "return [r.left, r.top, r.right, r.bottom]; })()")
        scale = image.width / self.viewport[0]
        box = tuple(round(v * scale) for v in rect)
        return image.crop(box)

    # -- shared machinery ------------------------------------------------------------------

    def _viewport_shot(self) -> Image.Image:
        return Image.open(io.BytesIO(self._viewport_png())).convert("RGB")

    def _full_page(self) -> Image.Image:
        # Scroll through the page and stitch the viewport shots (WebKit's WebDriver shoots the
        # viewport only; one code path for both engines).
        height = self.evaluate("document.documentElement.scrollHeight")
        view_h = self.viewport[1]
        first = self._viewport_shot()
        if height <= view_h:
            return first
        scale = first.width / self.viewport[0]
        out = Image.new("RGB", (first.width, round(height * scale)))
        top = 0
        while top < height:
            y = self.evaluate(f"(scrollTo(0, {top}), scrollY)")
            self.settle()
            shot = first if y == 0 else self._viewport_shot()
            out.paste(shot, (0, round(y * scale)))
            if y + view_h >= height:
                break
            top = y + view_h
        self.evaluate("(scrollTo(0, 0), 0)")
        self.settle()
        return out

    def _evaluate(self, expression: str):
        raise NotImplementedError

    def _navigate(self, url: str) -> None:
        raise NotImplementedError

    def _viewport_png(self) -> bytes:
        raise NotImplementedError

    def _resize(self, width: int, height: int) -> None:
        raise NotImplementedError


class Browser:
    page: Page
    engine = ""
    version = ""
    launch_seconds = 0.0


# -- Firefox over WebDriver BiDi ----------------------------------------------------------------


class BidiConnection:
    """A WebDriver BiDi client: commands in order, events kept for whoever wants them."""

    def __init__(self, url: str):
        from websockets.sync.client import connect
        self._stack = contextlib.ExitStack()
        # No `origin` argument: Firefox refuses a BiDi handshake that carries an Origin header.
        self.ws = self._stack.enter_context(connect(url, max_size=None, compression=None,
                                                    open_timeout=10))
        self.next_id = 0
        self.events: list[dict] = []

    def command(self, method: str, timeout: float = TIMEOUT, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("id") == ident:
                if message.get("type") == "error":
                    raise EngineError(f"firefox: {method}: {message.get('error')}: "
                                      f"{message.get('message')}")
                return message["result"]
            if message.get("type") == "event":
                self.events.append(message)

    def close(self) -> None:
        self._stack.close()


class FirefoxPage(Page):
    engine = "firefox"

    def __init__(self, bidi: BidiConnection, context: str, version: str):
        super().__init__()
        self.bidi, self.context, self.version = bidi, context, version

    def _collect_errors(self) -> None:
        for event in self.bidi.events:
            entry = event.get("params", {})
            if event.get("method") == "log.entryAdded" and entry.get("type") == "javascript":
                self.errors.append(entry.get("text", ""))
        self.bidi.events.clear()

    def _evaluate(self, expression: str):
        result = self.bidi.command("script.evaluate", expression=expression,
                                   target={"context": self.context}, awaitPromise=False)
        self._collect_errors()
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise EngineError(f"firefox: {details.get('text')} in {expression!r}")
        value = result["result"]
        return value.get("value") if value["type"] == "string" else None

    def _navigate(self, url: str) -> None:
        self.bidi.command("browsingContext.navigate", context=self.context, url=url,
                          wait="complete")

    def _viewport_png(self) -> bytes:
        result = self.bidi.command("browsingContext.captureScreenshot", context=self.context,
                                   origin="viewport")
        return base64.b64decode(result["data"])

    def _resize(self, width: int, height: int) -> None:
        self.bidi.command("browsingContext.setViewport", context=self.context,
                          viewport={"width": width, "height": height})


class Firefox(Browser):
    engine = "firefox"

    def __init__(self, prefs: dict | None = None):
        self.profile = tempfile.mkdtemp(prefix="firefox-profile-")
        # Firefox applies its recommended automation prefs itself (remote.prefs.recommended);
        # these are the test's own.
        prefs = {"media.autoplay.default": 0, "browser.shell.checkDefaultBrowser": False,
                 **(prefs or {})}
        Path(self.profile, "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items()))
        start = time.monotonic()
        self.proc = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", self.profile,
             "--remote-debugging-port=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1"},
            start_new_session=True)  # one process group with its content processes
        self.log: list[str] = []
        url = self._wait_for_bidi_url()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        self.bidi = BidiConnection(url + "/session")
        session = self.bidi.command("session.new", capabilities={})
        self.version = session["capabilities"]["browserVersion"]
        self.bidi.command("session.subscribe", events=["log.entryAdded"])
        context = self.bidi.command("browsingContext.getTree")["contexts"][0]["context"]
        self.page = FirefoxPage(self.bidi, context, self.version)
        self.page.set_viewport(*DESKTOP)
        self.launch_seconds = time.monotonic() - start

    def _wait_for_bidi_url(self) -> str:
        found: list[str] = []

        def read() -> None:
            for line in self.proc.stderr:
                self.log.append(line)
                if match := re.search(r"WebDriver BiDi listening on (ws://\S+)", line):
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(TIMEOUT)
        if not found:
            self.close()
            raise EngineError("firefox did not start WebDriver BiDi:\n" + "".join(self.log))
        return found[0]

    def _pump_stderr(self) -> None:
        for line in self.proc.stderr:
            if len(self.log) < 1000:
                self.log.append(line)

    def close(self) -> None:
        try:
            if getattr(self, "bidi", None):
                with contextlib.suppress(Exception):
                    self.bidi.command("browser.close", timeout=10)
                self.bidi.close()
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever of the browser is left
            self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


# -- WebKitGTK over WebDriver (Selenium) --------------------------------------------------------

# MiniBrowser's toolbar will not let its window get narrower than ~447 px. A GTK user style
# (read from XDG_CONFIG_HOME, a directory of the test's own) shrinks the toolbar so the window,
# and with it the page's viewport, can be phone-narrow. It styles MiniBrowser's widgets only;
# web content is drawn by WebKit, not by GTK.
GTK_CSS = """
toolbar, toolbar *, entry, button, image, box {
  min-width: 0; min-height: 0; padding: 0; margin: 0; font-size: 1px;
}
"""

# WebKit's WebDriver has no log API: collect uncaught errors from the page itself.
WEBKIT_ERROR_HOOK = ("window.__engineErrors || (window.__engineErrors = [], "
                     "addEventListener('error', (e) => __engineErrors.push(String(e.message))), "
                     "addEventListener('unhandledrejection', "
                     "(e) => __engineErrors.push(String(e.reason))), true)")


class WebKitPage(Page):
    engine = "webkit"

    def __init__(self, driver, version: str):
        super().__init__()
        self.driver, self.version = driver, version

    def _evaluate(self, expression: str):
        # One round trip: the errors collected so far, then the value.
        errors, value = self.driver.execute_script(
            f"return [window.__engineErrors ? __engineErrors.splice(0) : [], {expression}];")
        self.errors.extend(errors)
        return value

    def _navigate(self, url: str) -> None:
        self.driver.get(url)
        self.driver.execute_script(f"return {WEBKIT_ERROR_HOOK};")

    def _viewport_png(self) -> bytes:
        return self.driver.get_screenshot_as_png()

    def _resize(self, width: int, height: int) -> None:
        # The window includes MiniBrowser's toolbar: ask for the viewport plus what the window
        # adds around it (measured, as it depends on the GTK style).
        size = self.driver.get_window_size()
        inner = self.driver.execute_script("return [innerWidth, innerHeight];")
        self.driver.set_window_size(width + size["width"] - inner[0],
                                    height + size["height"] - inner[1])


class Xvfb:
    """A virtual X display of our own on a free display number."""

    def __init__(self, size: str = "1280x1024x24"):
        read_end, write_end = os.pipe()
        self.proc = subprocess.Popen([XVFB, "-displayfd", str(write_end), "-screen", "0", size,
                                      "-nolisten", "tcp"], pass_fds=(write_end,),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(write_end)
        number = b""
        with os.fdopen(read_end, "rb") as pipe:
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    self.close()
                    raise EngineError("Xvfb exited before choosing a display")
                number += chunk
        self.display = ":" + number.decode().strip()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class WebKit(Browser):
    engine = "webkit"

    def __init__(self, env: dict | None = None):
        from selenium import webdriver
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service
        start = time.monotonic()
        self.driver = self.service = None
        self.config = tempfile.mkdtemp(prefix="webkit-config-")
        Path(self.config, "gtk-3.0").mkdir()
        Path(self.config, "gtk-3.0", "gtk.css").write_text(GTK_CSS)
        self.xvfb = Xvfb()
        try:
            # Its own session: WebKitWebDriver, MiniBrowser and WebKit's processes are one
            # process group, killed together if quitting hangs.
            self.service = Service(executable_path=WEBKIT_DRIVER, env={
                **os.environ, "DISPLAY": self.xvfb.display, "XDG_CONFIG_HOME": self.config,
                **(env or {})}, popen_kw={"start_new_session": True})
            self.service.start()
            options = Options()
            options.overlay_scrollbars_enabled = True  # as GNOME's default
            # Selenium waits for the driver's answers forever by default: a hung browser
            # would hang the test run.
            config = ClientConfig(remote_server_addr=self.service.service_url,
                                  timeout=COMMAND_TIMEOUT)
            self.driver = webdriver.Remote(RemoteConnection(client_config=config),
                                           options=options)
            self.version = self.driver.capabilities.get("browserVersion", "")
            self.page = WebKitPage(self.driver, self.version)
            self.page.set_viewport(*DESKTOP)
        except BaseException:
            self.close()
            raise
        self.launch_seconds = time.monotonic() - start

    def close(self) -> None:
        try:
            if self.driver is not None:
                with contextlib.suppress(Exception):
                    self.driver.quit()
        finally:
            if self.service is not None:
                group = self.service.process.pid if self.service.process else None
                with contextlib.suppress(Exception):
                    self.service.stop()
                if group is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(group, signal.SIGKILL)  # whatever of the browser is left
            self.xvfb.close()
            shutil.rmtree(self.config, ignore_errors=True)


# -- Chromium through Playwright ------------------------------------------------------------------


class ChromiumPage(Page):
    engine = "chromium"

    def __init__(self, page, version: str):
        super().__init__()
        self.pw_page, self.version = page, version
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _evaluate(self, expression: str):
        return self.pw_page.evaluate(expression)

    def _navigate(self, url: str) -> None:
        self.pw_page.goto(url)

    def _viewport_png(self) -> bytes:
        return self.pw_page.screenshot()

    def _resize(self, width: int, height: int) -> None:
        self.pw_page.set_viewport_size({"width": width, "height": height})


class Chromium(Browser):
    engine = "chromium"

    def __init__(self):
        from playwright.sync_api import sync_playwright
        start = time.monotonic()
        self.playwright = sync_playwright().start()
        try:
            # launch() gives the browser a fresh temporary profile.
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = self.browser.new_context(
                viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT * 1000)
            self.version = self.browser.version
            self.page = ChromiumPage(page, self.version)
        except BaseException:
            self.playwright.stop()
            raise
        self.launch_seconds = time.monotonic() - start

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.playwright.stop()


@contextlib.contextmanager
def launch(engine: str, **options):
    """A started browser of ``engine`` ("firefox", "webkit" or "chromium"), closed on exit.
    ``options``: Firefox ``prefs={...}``; WebKit ``env={...}`` for the browser's processes."""
    why = missing(engine)
    if why:
        raise EngineError(f"{engine}: {why}")
    browser = {"firefox": Firefox, "webkit": WebKit, "chromium": Chromium}[engine](**options)
    try:
        yield browser
    finally:
        browser.close()
