// Shared by the pages (client.html: H.264 through WebCodecs or MSE, client_mjpeg.html: JPEG on
// a canvas, cameras.html: every camera at a glance): the viewer WebSocket with reconnect and
// backoff, the clock-offset estimate, the controls (connect/disconnect, status light, camera
// selector, snapshot, full screen), the statistics panel with its plots and the camera settings.
// No build step, no third-party code: plain ES modules served from /static.

import { CameraControls } from "./camera-controls.js";
import { Plot } from "./plots.js";

export const params = new URLSearchParams(location.search);

/** Wall-clock milliseconds on this page's monotonic clock (performance.now() based). */
export function localNow() {
  return performance.timeOrigin + performance.now();
}

/**
 * The viewer WebSocket URL: by default the server's /ws/<camera> next to this page (same origin,
 * same certificate, same login cookie; relative, so a reverse proxy's path prefix carries over).
 * ?ws_url= (a base URL), or ?ws_port= / ?ws_host= (the separate viewer port) override it.
 * `query`: more options for the server (e.g. {repeats: "0"}).
 */
export function viewerUrl(camera, format, query = {}) {
  const path = camera ? "/" + encodeURIComponent(camera) : "";
  const search = new URLSearchParams({ format, ...query }).toString();
  if (params.get("ws_url")) {
    const base = params.get("ws_url").replace(/\/+$/, "");
    return `${base}${path || "/"}?${search}`;
  }
  const secure = location.protocol === "https:";
  if (params.get("ws_port") || params.get("ws_host")) {
    const host = params.get("ws_host") || location.hostname || "127.0.0.1";
    const port = params.get("ws_port") || "8766";
    return `${secure ? "wss" : "ws"}://${host}:${port}${path || "/"}?${search}`;
  }
  const url = new URL(`ws${path}?${search}`, location.href);
  url.protocol = secure ? "wss:" : "ws:";
  return url.href;
}

/** Send the browser to the login page, and back here after it. */
export function goToLogin() {
  const next = location.pathname.replace(/^.*\//, "") + location.search;
  location.href = "login?" + new URLSearchParams({ next }).toString();
}

/**
 * Server clock offset, NTP style: each ping/pong gives offset = server_ms - midpoint of the
 * round trip; the sample with the smallest round trip among the recent ones is the best.
 * Recent = the last 12 samples, so drift between the two clocks is followed over hours.
 */
export class ClockSync {
  constructor() {
    this.reset();
  }

  reset() {
    this.samples = [];
    this.offset = null;  // server ms - local ms
    this.rtt = null;
  }

  ping(ws) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "ping", t: localNow() }));
    }
  }

  pong(message) {
    const now = localNow();
    const sent = Number(message.t);
    const server = Number(message.server_ms);
    if (!Number.isFinite(sent) || !Number.isFinite(server) || now < sent) return;
    this.samples.push({ rtt: now - sent, offset: server - (sent + now) / 2 });
    if (this.samples.length > 12) this.samples.shift();
    const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.offset = best.offset;
    this.rtt = best.rtt;
  }

  /** Local wall ms (timeOrigin-based) -> server Unix ms. */
  toServer(localMs) {
    return localMs + (this.offset ?? 0);
  }
}

/**
 * One viewer WebSocket that stays connected: reconnects with exponential backoff (0.5 s to
 * 10 s, with jitter) whenever it closes, until stop(). Text messages are parsed as JSON; pongs
 * go to the clock; a watchdog closes a connection that has been silent for 15 s (a server that
 * vanished without closing), since the clock pings every 10 s are always answered.
 */
export class LiveConnection {
  constructor({ format, query, camera, onOpen, onJson, onBinary, onClose, onState }) {
    this.format = format;
    this.query = query || {};
    this.camera = camera || "";
    this.onOpen = onOpen || (() => {});
    this.onJson = onJson || (() => {});
    this.onBinary = onBinary || (() => {});
    this.onClose = onClose || (() => {});
    this.onState = onState || (() => {});
    this.clock = new ClockSync();
    this.ws = null;
    this.wanted = false;
    this.backoff = 500;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastMessage = 0;
    this.bytes = 0;  // total bytes received, for the bitrate
    this.state = "disconnected";
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  start() {
    this.wanted = true;
    if (!this.ws) this.open();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closeSocket();
    this.setState("disconnected");
  }

  /** Drop the connection and open a fresh one now (new camera, unrecoverable player error). */
  restart() {
    this.closeSocket();
    this.backoff = 500;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.wanted) this.open();
  }

  closeSocket() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
      this.onClose();
    }
  }

  open() {
    const url = viewerUrl(this.camera, this.format, this.query);
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.scheduleRetry(String(e));
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.clock.reset();
    ws.onopen = () => {
      this.lastMessage = performance.now();
      this.setState("connected");
      this.onOpen();
      // A burst of pings for a good first estimate, then one every 10 s.
      let pings = 0;
      this.clock.ping(ws);
      this.pingTimer = setInterval(() => {
        pings++;
        if (pings < 5 || pings % 20 === 0) this.clock.ping(ws);
        if (performance.now() - this.lastMessage > 15000) {
          console.warn("viewer socket silent for 15 s; reconnecting");
          this.closeSocket();
          this.scheduleRetry("silent");
        }
      }, 500);
    };
    ws.onmessage = (event) => {
      this.lastMessage = performance.now();
      if (typeof event.data === "string") {
        this.bytes += event.data.length;
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type === "pong") this.clock.pong(message);
        else this.onJson(message);
      } else {
        this.bytes += event.data.byteLength;
        this.backoff = 500;  // data flows: the next outage starts with a short wait again
        this.onBinary(event.data);
      }
    };
    ws.onclose = (event) => {
      this.closeSocket();
      this.scheduleRetry(event.reason || `closed (${event.code})`);
    };
    ws.onerror = () => { /* onclose follows and does the work */ };
  }

  scheduleRetry(reason) {
    if (!this.wanted) return;
    const wait = this.backoff * (0.8 + 0.4 * Math.random());
    this.backoff = Math.min(this.backoff * 2, 10000);
    this.setState("retrying", `${reason}; retrying in ${(wait / 1000).toFixed(1)} s`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted && !this.ws) this.open();
    }, wait);
  }
}

/** Links marked data-keep-query (to the other page) get this page's options, without the
 * H.264 page's note of why it sent the browser to the MJPEG page. */
function keepQuery() {
  const query = new URLSearchParams(location.search);
  query.delete("fallback");
  query.delete("codec");
  document.querySelectorAll("a[data-keep-query]").forEach((a) => { a.search = query; });
}

/** Median of a numeric array (copied and sorted), or null when empty. */
export function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** How far back the statistics' plots go. */
export const HISTORY_MS = 60000;

/**
 * Statistics common to both pages. Players call frameShown(arrivalServerMs, shownLocalMs)
 * for every frame that reaches the screen; the panel shows the median delay of the last second.
 * The object is also window.liveStats, for tests and the benchmark.
 */
export class Stats {
  constructor(connection) {
    this.connection = connection;
    this.reset();
  }

  reset() {
    this.frames = 0;          // frames shown since the page opened
    this.fps = 0;
    this.kbps = null;         // null until measured over one interval
    this.width = 0;
    this.height = 0;
    this.delayMs = null;      // what the panel shows: median of the last second
    this.lastDelayMs = null;  // the latest frame's
    this.recent = [];         // [{t: local ms, delay}]
    this.lastShown = 0;       // performance.now() of the latest frame shown
    this.dropped = 0;
    this._bytesMark = null;
    this.extra = {};
    this.history = [];        // [{t: local ms, delay, kbps}] every tick, the last minute: plots
  }

  frameShown(arrivalServerMs, shownLocalMs) {
    this.frames++;
    this.lastShown = performance.now();
    if (arrivalServerMs != null && this.connection.clock.offset != null) {
      const delay = this.connection.clock.toServer(shownLocalMs) - arrivalServerMs;
      this.lastDelayMs = delay;
      this.recent.push({ t: shownLocalMs, delay });
    } else {
      this.recent.push({ t: shownLocalMs, delay: null });
    }
  }

  /** Called twice a second: rolls the one-second windows. */
  tick() {
    const now = localNow();
    while (this.recent.length && this.recent[0].t < now - 1000) this.recent.shift();
    this.fps = this.recent.length;
    const delays = this.recent.map((r) => r.delay).filter((d) => d != null);
    this.delayMs = median(delays);
    const bytes = this.connection.bytes;
    if (this._bytesMark) {
      const dt = (now - this._bytesMark.t) / 1000;
      if (dt > 0) this.kbps = ((bytes - this._bytesMark.bytes) * 8) / 1000 / dt;
    }
    this._bytesMark = { t: now, bytes };
    this.history.push({ t: now, delay: this.delayMs, kbps: this.kbps });
    while (this.history.length && this.history[0].t < now - HISTORY_MS) this.history.shift();
  }

  get flowing() {
    return this.lastShown > 0 && performance.now() - this.lastShown < 1500;
  }
}

export function formatKbps(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(2)} Mbit/s` : `${kbps.toFixed(0)} kbit/s`;
}

/** A file name for a picture of `camera` taken now: desk-2026-11-30-09-41-07.png. */
export function snapshotName(camera) {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return `${camera || "camera"}-${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
    + `-${two(d.getHours())}-${two(d.getMinutes())}-${two(d.getSeconds())}.png`;
}

/** Save the picture `source` (a <video> or <canvas>) shows now, at its own size, as a PNG
 * download. Returns false when there is no picture yet. */
export function saveSnapshot(source, name) {
  const width = source.videoWidth ?? source.width;
  const height = source.videoHeight ?? source.height;
  if (!width || !height) return false;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  canvas.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }, "image/png");
  return true;
}

/**
 * Wires a page's controls to a player. The page markup provides elements with these ids:
 * status-light, status-text, connect, snapshot, fullscreen, camera-select, stage, controls (the
 * camera settings, see camera-controls.js), <dd data-stat="..."> cells and <canvas
 * data-plot="delay|kbps"> plots. `player` implements attach(connection, stats), the connection
 * callbacks (opened/json/binary/closed) and optionally reset(), extraStats() and
 * snapshotSource() (the element showing the picture).
 */
export class PageController {
  constructor({ format, query, player }) {
    this.player = player;
    this.camera = params.get("camera") || "";
    this.cameraState = null;  // "online" | "offline" | null (unknown)
    this.connection = new LiveConnection({
      format,
      query,
      camera: this.camera,
      onOpen: () => player.opened(),
      onJson: (m) => this.json(m),
      onBinary: (data) => player.binary(data),
      onClose: () => player.closed(),
      onState: (state, detail) => { this.connState = state; this.connDetail = detail || ""; this.render(); },
    });
    this.stats = new Stats(this.connection);
    player.attach(this.connection, this.stats, this);
    window.liveStats = this.stats;
    window.livePage = this;
    this.$ = (id) => document.getElementById(id);
    this.controls = new CameraControls(this.$("controls"), () => this.camera || this.streamCamera,
                                       () => this.pollCameras());
    this.plots = [...document.querySelectorAll("canvas[data-plot]")].map((canvas) => new Plot(
      canvas, canvas.dataset.plot, canvas.dataset.plot === "kbps" ? formatKbps
        : (v) => `${v.toFixed(0)} ms`, HISTORY_MS));
    this.bindControls();
    this.pollCameras();
    setInterval(() => { this.stats.tick(); this.render(); }, 500);
    setInterval(() => this.pollCameras(), 5000);
    if (params.get("autoconnect") !== "0") this.connect();
    else this.render();
  }

  json(message) {
    if (message.type === "stream") {
      this.streamCamera = message.camera;
      this.cameraState = message.online ? "online" : "offline";
      if (Array.isArray(message.cameras)) this.updateCameraList(message.cameras);
    } else if (message.type === "camera") {
      this.cameraState = message.state;
    } else if (message.type === "config_ack" || message.type === "settings") {
      this.controls.message(message);
      return;
    }
    this.player.json(message);
    this.render();
  }

  connect() {
    this.connection.start();
    this.$("connect").textContent = "Disconnect";
  }

  disconnect() {
    this.connection.stop();
    this.player.reset?.();
    this.$("connect").textContent = "Connect";
    this.render();
  }

  bindControls() {
    this.$("connect").addEventListener("click", () => {
      if (this.connection.wanted) this.disconnect();
      else this.connect();
    });
    this.$("snapshot")?.addEventListener("click", () => this.snapshot());
    const fullscreen = this.$("fullscreen");
    fullscreen.addEventListener("click", () => this.toggleFullscreen());
    document.addEventListener("fullscreenchange", () => {
      fullscreen.textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
    });
    this.$("stage").addEventListener("dblclick", () => this.toggleFullscreen());
    this.$("camera-select").addEventListener("change", (e) => this.selectCamera(e.target.value));
    keepQuery();
  }

  /** Save the picture on screen now as a PNG (the button says when there is none yet). */
  snapshot() {
    const source = this.player.snapshotSource?.()
      || this.$("stage").querySelector("video:not([hidden]), canvas:not([hidden])");
    const button = this.$("snapshot");
    if (!saveSnapshot(source, snapshotName(this.camera || this.streamCamera))) {
      button.textContent = "No picture yet";
      setTimeout(() => { button.textContent = "Snapshot"; }, 1500);
    }
  }

  toggleFullscreen() {
    const stage = this.$("stage");
    if (document.fullscreenElement || document.webkitFullscreenElement) {
      (document.exitFullscreen || document.webkitExitFullscreen).call(document);
    } else if (stage.requestFullscreen) {
      stage.requestFullscreen().catch(() => {});
    } else if (stage.webkitRequestFullscreen) {
      stage.webkitRequestFullscreen();
    } else {
      // iPhone Safari: only a <video> can go full screen.
      const video = stage.querySelector("video");
      if (video && video.webkitEnterFullscreen) video.webkitEnterFullscreen();
    }
  }

  selectCamera(id) {
    if (id === this.camera) return;
    this.camera = id;
    this.connection.camera = id;
    params.set("camera", id);
    history.replaceState(null, "", `${location.pathname}?${params}`);
    keepQuery();
    this.player.reset?.();
    this.stats.reset();
    this.controls.update(this.access?.cameras?.find((c) => c.id === id));
    if (this.connection.wanted) this.connection.restart();
    this.render();
  }

  /** The cameras this user may watch (and what else they may do), from /api/cameras. */
  async pollCameras() {
    try {
      const response = await fetch("api/cameras", { cache: "no-store" });
      if (response.status === 401) return goToLogin();  // the login ended (logout, expiry)
      if (!response.ok) return;
      const listing = await response.json();
      this.access = listing;
      this.updateCameraList((listing.cameras || []).map((c) => c.id), listing.cameras);
      this.showRecording(listing.cameras);
      this.showUser(listing);
      const id = this.camera || this.streamCamera;
      this.controls.update(listing.cameras?.find((c) => c.id === id));
    } catch (e) { /* the server is away; the socket's retries say so */ }
  }

  /** Who is logged in, with a log-out button; nothing when the server has no logins. */
  showUser(listing) {
    const form = this.$("logout");
    if (!form) return;
    form.hidden = !listing.user;
    this.$("user").textContent = listing.user || "";
  }

  updateCameraList(ids, details) {
    const select = this.$("camera-select");
    const current = this.camera || this.streamCamera || "";
    const all = [...new Set([...ids, ...(current ? [current] : [])])];
    const key = JSON.stringify(all.map((id) => [id, details?.find((c) => c.id === id)?.online]));
    if (key !== this._cameraKey) {
      this._cameraKey = key;
      select.replaceChildren(...all.map((id) => {
        const online = details?.find((c) => c.id === id)?.online;
        const option = new Option(online === false ? `${id} (offline)` : id, id);
        return option;
      }));
    }
    select.value = current;
    select.parentElement.hidden = all.length < 2;
  }

  /** The recording indicator (issue 12), from the /status this page polls anyway: hidden when
   * the camera is not set to record; "REC" while a file is being written. */
  showRecording(cameras) {
    const rec = this.$("rec");
    const id = this.camera || this.streamCamera;
    const recording = (cameras || []).find((c) => c.id === id)?.recording;
    const state = recording && recording.mode !== "off" ? recording.state : "";
    rec.hidden = !state;
    rec.dataset.state = state;
    rec.textContent = {
      recording: "● REC", idle: "○ REC on motion", error: "⚠ REC stopped", paused: "⚠ REC stopped",
    }[state] || "○ REC";
    rec.title = state === "error" || state === "paused"
      ? `Recording stopped: ${recording.last_error?.message || state}`
      : `Recording: ${recording?.mode || "off"} (${state || "off"}); click for the recordings`;
  }

  /** The light: grey = off, amber = connecting/waiting for video, green = video flows, red = error. */
  lightAndText() {
    const c = this.connection;
    if (!c.wanted) return ["off", "Disconnected"];
    if (c.state === "connecting") return ["wait", "Connecting…"];
    if (c.state === "retrying") return ["error", `Server unreachable: ${this.connDetail}`];
    if (this.player.error) return ["error", this.player.error];
    if (this.stats.flowing) return ["live", `Live: ${this.streamCamera || this.camera}`];
    if (this.cameraState === "offline") return ["wait", `Camera ${this.streamCamera || this.camera} is offline; waiting`];
    if (!this.streamCamera) return ["wait", "Waiting for a camera…"];
    return ["wait", "Waiting for video…"];
  }

  render() {
    if (!this.$) return;
    const [light, text] = this.lightAndText();
    const lightEl = this.$("status-light");
    lightEl.className = `light ${light}`;
    lightEl.title = text;
    this.$("status-text").textContent = text;
    document.body.dataset.state = light;
    const s = this.stats;
    const values = {
      status: text,
      bitrate: this.connection.wanted && s.kbps != null ? formatKbps(s.kbps) : "–",
      frames: String(s.frames),
      fps: s.fps.toFixed(0),
      resolution: s.width ? `${s.width}×${s.height}` : "–",
      delay: s.delayMs == null ? "–" : `${s.delayMs.toFixed(0)} ms`,
      ...(this.player.extraStats?.() || {}),
    };
    for (const cell of document.querySelectorAll("[data-stat]")) {
      const v = values[cell.dataset.stat];
      if (v !== undefined && cell.textContent !== v) cell.textContent = v;
    }
    for (const plot of this.plots) plot.draw(s.history);
  }
}
