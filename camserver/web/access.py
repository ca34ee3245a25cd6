"""Access on the HTTP port: one rule per route, checked by one middleware; login and logout.

Every route is added with a name and has an entry in :data:`RULES` (a test walks the router and
fails on a route without one, so a new endpoint cannot be forgotten). The middleware asks the
gate (:mod:`camserver.access.gate`) once per request and puts the caller in
``request["caller"]``. Refusals: a page request from a caller who is not logged in goes to
``/login?next=...``; programs get 401 with ``WWW-Authenticate: Basic`` (VLC, ffmpeg and Home
Assistant then send their user and password), 403 when the credentials are right but the
permission is missing, 429 after too many failed attempts.

State-changing requests (anything but GET/HEAD) must come from this server's own pages: an
``Origin`` of another site is refused, and the camera settings API takes only
``Content-Type: application/json``, which a cross-site form cannot send without the browser
asking first (CORS preflight, which this server never grants).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..access.gate import Caller, Gate, Refusal
from ..access.sessions import COOKIE, SessionStore
from ..outputs.audience import Audience
from ..ratelimit import RateLimitedLog
from .guard import read_body

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

ROOT = Path(__file__).resolve().parents[2]
MAX_LOGIN_BODY = 4096


@dataclass(frozen=True)
class Rule:
    #: The permission needed (camserver.access.permissions); None: anyone.
    action: str | None
    #: The route's match_info key holding the camera id; None: any camera / not a camera action.
    camera: str | None = None
    #: A page: a caller who is not logged in is sent to /login instead of getting a 401.
    page: bool = False
    #: False for the login page and static files: no credentials are looked at.
    identify: bool = True
    #: A signed link (camserver.access.signing): no credentials are looked at; unless anonymous
    #: callers may do ``action`` on the camera, the URL's signature over (camera, match_info
    #: "name") must be valid and unexpired. For files a shared cache serves to everyone.
    signed: bool = False


PUBLIC = Rule(None, identify=False)

RULES: dict[str, Rule] = {
    "page-h264": Rule("read", page=True),
    "page-mjpeg": Rule("read", page=True),
    "page-cameras": Rule("read", page=True),
    "recordings-page": Rule("playback", page=True),
    "status": Rule("status"),
    "metrics": Rule("metrics"),
    # The cameras the caller may read: anonymous callers who may read none are asked to log in
    # (401, so a page whose login ended goes to /login); a user who may read none gets 403.
    "cameras-api": Rule("read"),
    "camera-config": Rule("control", "id"),
    "snapshot-first": Rule("read"),
    "snapshot": Rule("read", "id"),
    "stream-first": Rule("read"),
    "stream": Rule("read", "id"),
    "ws-first": Rule("read"),
    "ws": Rule("read", "id"),
    # The recording routes check "playback" per camera through request["caller"] (the gate's
    # check, via authorize() below); the listing of cameras filters by it. The middleware asks
    # too, so that no route but login, logout and static files is left to its handler alone.
    "recordings-cameras": Rule("playback"),
    "recordings-listing": Rule("playback", "id"),
    "recordings-clip": Rule("playback", "id"),
    "hls-playlist": Rule("read", "id"),
    "hls-segment": Rule("read", "id", identify=False, signed=True),
    "login-page": PUBLIC,
    "login": PUBLIC,
    "logout": Rule(None),
    "static": PUBLIC,
}


def route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    return route.name or (route.resource.name if route.resource is not None else None)


def login_location(request: web.Request) -> str:
    """``login?next=...``, relative: behind a proxy that serves us under a path prefix, the
    browser resolves both against the prefix it sees (pages live at the top level here)."""
    return "login?" + urllib.parse.urlencode({"next": request.path_qs.lstrip("/")})


def anonymous_may(gate: Gate, action: str, camera: str | None) -> bool:
    """Whether anyone at all, without credentials, may do ``action`` on ``camera``."""
    return gate.accounts.anonymous.allows(action, camera)


def make_middleware(gate: Gate, tls: bool, signer=None):
    """``signer`` (camserver.access.signing.UrlSigner) checks the links of signed routes."""
    @web.middleware
    async def access(request: web.Request, handler):
        if request.match_info.http_exception is not None:
            return await handler(request)  # 404/405: nothing to protect
        name = route_name(request)
        rule = RULES.get(name)
        if rule is None:
            log.error("No access rule for route %r (%s); refused", name, request.path)
            raise web.HTTPInternalServerError(text="no access rule for this route\n")
        if rule.signed:
            camera = request.match_info.get(rule.camera) if rule.camera else None
            if not anonymous_may(gate, rule.action, camera):
                why = "signed links are off" if signer is None else \
                    signer.check(camera or "", request.match_info.get("name", ""),
                                 request.query)
                if why is not None:
                    return refused(request, rule, Refusal(403, why + "\n"))
            return await handler(request)
        if not rule.identify:
            return await handler(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        try:
            if request.method not in ("GET", "HEAD") or request.headers.get("Upgrade"):
                gate.check_origin(request.headers)
            caller = await gate.identify(request.headers, request.path_qs,
                                         peer[0] if peer else "?", tls)
            request["caller"] = caller
            if rule.action is not None:
                camera = request.match_info.get(rule.camera) if rule.camera else None
                gate.check(caller, rule.action, camera)
        except Refusal as refusal:
            return refused(request, rule, refusal)
        return await handler(request)

    return access


def refused(request: web.Request, rule: Rule, refusal: Refusal) -> web.Response:
    caller: Caller | None = request.get("caller")
    not_logged_in = caller is None or caller.principal.anonymous
    if rule.page and refusal.status == 401 and not_logged_in:
        response = web.HTTPFound(login_location(request))
        if caller is None:  # a session that ended: forget it
            response.del_cookie(COOKIE, path="/")
        return response
    headers = {"Cache-Control": "no-store"}
    if refusal.challenge and not rule.page and not from_a_script(request):
        headers["WWW-Authenticate"] = CHALLENGE
    return web.Response(status=refusal.status, text=str(refusal), headers=headers)


CHALLENGE = 'Basic realm="camserver", charset="UTF-8"'


def from_a_script(request: web.Request) -> bool:
    """A page's fetch() (browsers say so in Sec-Fetch-Mode), not a program or an address typed
    in the browser. A Basic challenge would make the browser pop up its own password dialog
    over the page (and hold the fetch until it is answered) instead of letting the page go to
    /login; a plain 401 lets it."""
    return request.headers.get("Sec-Fetch-Mode", "navigate") not in ("navigate", "websocket")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a relative path on this server, never another site. A bare
    query (the H.264 page at ``/?camera=desk``) is made ``./?camera=desk``: resolved against
    ``/login`` it would otherwise open the login page again."""
    # Browsers drop tabs and newlines anywhere in a URL and spaces and control characters at
    # its ends: "\t//evil.example" would be "//evil.example", another site.
    if not value or value.startswith(("/", "\\")) or "\\" in value \
            or any(c <= " " or c == "\x7f" for c in value) \
            or ":" in value.split("/")[0].split("?")[0]:
        return "./"
    return "./" + value if value.startswith("?") else value


def add_routes(app: web.Application, gate: Gate, sessions: SessionStore, audience: Audience,
               tls: bool, cameras_listing) -> None:
    """``/login`` (GET: the form; POST: log in), ``/logout`` (POST), ``/api/cameras``."""
    login_html = (ROOT / "login.html").read_text()

    async def login_page(request: web.Request) -> web.Response:
        return web.Response(text=login_html, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def login(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client = gate.client(peer[0] if peer else "?", request.headers, tls)
        try:
            gate.check_origin(request.headers)
            gate.check_throttle(client.address)
        except Refusal as refusal:
            return web.Response(status=refusal.status, text=str(refusal))
        body = await read_body(request, MAX_LOGIN_BODY, 10.0)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        name = form.get("name", [""])[0][:64]
        password = form.get("password", [""])[0][:1024]
        target = safe_next(form.get("next", [""])[0])
        principal = await gate.accounts.login(name, password) if name else None
        if principal is None:
            gate.failed(client.address, "failed login")
            query = urllib.parse.urlencode({"error": "1", "next": target})
            raise web.HTTPFound(f"login?{query}")
        session_id = sessions.start(principal.name)
        _log.log(logging.INFO, f"login:{principal.name}", "%s logged in from %s",
                 principal.name, client.address)
        response = web.HTTPFound(target)
        response.set_cookie(COOKIE, session_id, max_age=int(sessions.lifetime), path="/",
                            httponly=True, samesite="Strict", secure=client.scheme == "https")
        raise response

    async def logout(request: web.Request) -> web.StreamResponse:
        caller: Caller = request["caller"]
        cookie = request.cookies.get(COOKIE)
        if cookie:
            session = sessions.end(cookie)
            if session is not None:
                for viewer in list(audience.viewers):
                    if viewer.session == session.key:
                        audience.leave(viewer)
                        viewer.abort()
        response = web.HTTPFound("login")
        response.del_cookie(COOKIE, path="/")
        _log.log(logging.INFO, "logout", "%s logged out", caller.principal.name)
        raise response

    async def cameras(request: web.Request) -> web.Response:
        caller: Caller = request["caller"]
        principal = caller.principal
        return web.json_response({
            "user": None if principal.anonymous else principal.name,
            "login": gate.accounts.configured,
            "cameras": [shown_to(camera, principal.grants.actions_on(camera["id"]))
                        for camera in cameras_listing()
                        if principal.may("read", camera["id"])],
            "may": {action: principal.may(action) for action in ("status", "metrics")},
        }, headers={"Cache-Control": "no-store"}, dumps=json.dumps)

    app.router.add_get("/login", login_page, name="login-page")
    app.router.add_post("/login", login, name="login")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/api/cameras", cameras, name="cameras-api")


#: Fields of a camera in /api/cameras that only callers who may ``control`` it get: its
#: settings, the choices it accepts, and its answers to settings.
CONTROL_FIELDS = ("settings", "config_ack")


def shown_to(camera: dict, actions: list[str]) -> dict:
    """``camera`` as listed for a caller allowed ``actions`` on it."""
    shown = dict(camera, actions=actions)
    if "control" not in actions:
        for key in CONTROL_FIELDS:
            shown.pop(key, None)
    return shown


def authorize(gate: Gate):
    """The recordings routes' permission hook, answered by the same gate as everything else."""
    async def check(request: web.Request, action: str, camera_id: str | None) -> None:
        caller = request.get("caller")
        if caller is None:
            raise web.HTTPUnauthorized(text="log in\n")
        try:
            gate.check(caller, action, camera_id)
        except Refusal as refusal:
            if refusal.status == 403:
                raise web.HTTPForbidden(text=str(refusal)) from None
            raise web.HTTPUnauthorized(text=str(refusal), headers=None if from_a_script(
                request) else {"WWW-Authenticate": CHALLENGE}) from None
    return check
