// The dashboard (cameras.html): a live tile per camera this user may watch, from /api/cameras.
//
// Each tile shows the camera's JPEGs (the viewer WebSocket's mjpeg format) on a canvas, with its
// name, online state, frame rate and delay as shown here, viewers and recording state (from
// /api/cameras, polled every 2 s). A click opens the camera in the H.264 page.
//
// Why MJPEG for tiles: a JPEG needs no other frame, so a busy tile simply skips to the newest
// one (one decode at a time per tile, newer arrivals replace a waiting one) and a tile that
// comes back into view shows a picture with its first message; H.264 would have to decode every
// frame or wait for a keyframe, and WebCodecs only exists over https. The JPEGs are the camera's
// own, so the server does no work for them. Only tiles that can be seen stream: a tile
// scrolled out of view, or every tile while the page is hidden, closes its socket and keeps its
// last picture; it reconnects when seen again. Pictures are drawn at the tile's size.

import { LiveConnection, Stats, goToLogin, localNow, params } from "./common.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

/** Query options a page link carries over (where the viewer WebSocket is, and so on). */
function linkQuery(camera) {
  const query = new URLSearchParams(params);
  query.set("camera", camera);
  return query.toString();
}

class Tile {
  constructor(camera) {
    this.id = camera.id;
    this.visible = false;
    this.element = document.createElement("a");
    this.element.className = "tile";
    this.element.href = `./?${linkQuery(camera.id)}`;
    this.element.dataset.camera = camera.id;
    this.element.innerHTML = `
      <div class="picture"><canvas width="320" height="240"></canvas>
        <span class="overlay" hidden></span><span class="rec" hidden></span></div>
      <div class="caption"><span class="light off"></span><span class="name"></span></div>
      <div class="figures"><span data-f="fps">– fps</span><span data-f="delay">–</span>
        <span data-f="viewers"></span></div>`;
    this.canvas = this.element.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false });
    this.decoding = false;
    this.pending = null;
    this.unpainted = null;
    this.paintRequested = false;
    this.framesDrawn = 0;
    this.connection = new LiveConnection({
      format: "mjpeg",
      camera: camera.id,
      onJson: (m) => this.json(m),
      onBinary: (data) => this.binary(data),
      onState: () => this.render(),
    });
    this.stats = new Stats(this.connection);
    this.update(camera);
  }

  /** The camera as /api/cameras lists it now. */
  update(camera) {
    this.camera = camera;
    this.online = camera.online;
    this.element.querySelector(".name").textContent = camera.name || camera.id;
    this.element.title = `${camera.name || camera.id}: open this camera`;
    const viewers = camera.viewers ?? 0;
    this.element.querySelector("[data-f=viewers]").textContent =
      `${viewers} viewer${viewers === 1 ? "" : "s"}`;
    const rec = this.element.querySelector(".rec");
    const recording = camera.recording;
    const state = recording && recording.mode !== "off" ? recording.state : "";
    rec.hidden = !state;
    rec.dataset.state = state;
    rec.textContent = { recording: "● REC", idle: "○ REC on motion", error: "⚠ REC stopped",
                        paused: "⚠ REC stopped" }[state] || "○ REC";
    this.render();
  }

  json(message) {
    if (message.type === "stream") this.online = message.online;
    else if (message.type === "camera") this.online = message.state === "online";
    this.render();
  }

  /** Stream while the tile can be seen (and the page is shown), not otherwise. */
  setVisible(visible) {
    this.visible = visible;
    const wanted = visible && !document.hidden;
    if (wanted && !this.connection.wanted) this.connection.start();
    else if (!wanted && this.connection.wanted) {
      this.connection.stop();
      this.pending = null;
    }
    this.render();
  }

  binary(data) {
    if (data.byteLength <= 12) return;
    const header = new DataView(data, 0, 12);
    const frame = { arrival: header.getFloat64(4),
                    blob: new Blob([new Uint8Array(data, 12)], { type: "image/jpeg" }) };
    if (this.decoding) {
      this.pending = frame;  // only the newest waits
      return;
    }
    this.decode(frame);
  }

  async decode(frame) {
    this.decoding = true;
    try {
      const bitmap = await createImageBitmap(frame.blob);
      this.draw(bitmap);
      bitmap.close();
      this.shownAtNextPaint(frame);
    } catch (e) {
      /* a bad JPEG: skip it */
    } finally {
      this.decoding = false;
      if (this.pending && this.connection.wanted) {
        const next = this.pending;
        this.pending = null;
        this.decode(next);
      }
    }
  }

  /** Draw at the tile's size in device pixels (never above the picture's own). */
  draw(bitmap) {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const scale = Math.min(1, (c.clientWidth * ratio) / bitmap.width || 1);
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    if (c.width !== width || c.height !== height) {
      c.width = width;
      c.height = height;
    }
    this.ctx.drawImage(bitmap, 0, 0, width, height);
    this.framesDrawn++;
    this.stats.width = bitmap.width;
    this.stats.height = bitmap.height;
  }

  shownAtNextPaint(frame) {
    this.unpainted = frame;
    if (this.paintRequested) return;
    this.paintRequested = true;
    requestAnimationFrame(() => {
      this.paintRequested = false;
      const f = this.unpainted;
      this.unpainted = null;
      if (f) this.stats.frameShown(f.arrival, localNow());
    });
  }

  tick() {
    this.stats.tick();
    this.render();
  }

  render() {
    const s = this.stats;
    const live = this.connection.wanted && s.flowing;
    const light = !this.online ? "off" : live ? "live"
      : this.connection.state === "retrying" ? "error" : "wait";
    this.element.querySelector(".light").className = `light ${light}`;
    this.element.dataset.state = light;
    this.element.querySelector("[data-f=fps]").textContent =
      live ? `${s.fps} fps` : this.online ? "– fps" : "offline";
    this.element.querySelector("[data-f=delay]").textContent =
      live && s.delayMs != null ? `${s.delayMs.toFixed(0)} ms` : "–";
    const overlay = this.element.querySelector(".overlay");
    const text = !this.online ? "Offline"
      : !this.connection.wanted ? (this.visible ? "" : "Paused")
      : this.connection.state === "retrying" ? "Reconnecting…"
      : !live && !this.framesDrawn ? "Waiting for video…" : "";
    overlay.textContent = text;
    overlay.hidden = !text;
  }

  remove() {
    this.connection.stop();
    this.element.remove();
  }
}

class Dashboard {
  constructor() {
    this.tiles = new Map();
    this.grid = $("tiles");
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        this.tiles.get(entry.target.dataset.camera)?.setVisible(entry.isIntersecting);
      }
    });
    document.addEventListener("visibilitychange", () => {
      for (const tile of this.tiles.values()) tile.setVisible(tile.visible);
    });
    $("fullscreen").addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen?.().catch(() => {});
    });
    document.addEventListener("fullscreenchange", () => {
      $("fullscreen").textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
    });
    window.dashboard = this;
    addEventListener("resize", () => this.fit());
    this.poll();
    setInterval(() => this.poll(), POLL_MS);
    setInterval(() => { for (const tile of this.tiles.values()) tile.tick(); }, 500);
  }

  /** A wall screen: the fewest columns that still show every tile without scrolling (the
   * biggest tiles that fit). Where none fit (a phone), as many columns of at least 19rem as the
   * width takes (the style sheet's rule). */
  fit() {
    const n = this.tiles.size;
    const first = this.grid.firstElementChild;
    if (!n || !first) return;
    const style = getComputedStyle(this.grid);
    const gap = parseFloat(style.columnGap) || 0;
    const width = this.grid.clientWidth;
    const height = innerHeight - this.grid.getBoundingClientRect().top - 8;
    const caption = first.offsetHeight - first.querySelector(".picture").offsetHeight;
    const minWidth = 12 * parseFloat(getComputedStyle(document.documentElement).fontSize);
    let columns = 0;
    for (let c = 1; c <= n; c++) {
      const w = (width - gap * (c - 1)) / c;
      const rows = Math.ceil(n / c);
      if (w >= minWidth && rows * (w * 0.75 + caption) + gap * (rows - 1) <= height) {
        columns = c;
        break;
      }
    }
    this.grid.style.gridTemplateColumns = columns ? `repeat(${columns}, minmax(0, 1fr))` : "";
  }

  async poll() {
    let listing;
    try {
      const response = await fetch("api/cameras", { cache: "no-store" });
      if (response.status === 401) return goToLogin();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      listing = await response.json();
    } catch (e) {
      $("summary").textContent = `Server unreachable (${e.message || e}); retrying`;
      return;
    }
    // By name: the same place for each camera on every screen and after every restart.
    const cameras = (listing.cameras || []).slice().sort(
      (a, b) => (a.name || a.id).localeCompare(b.name || b.id, undefined, { numeric: true }));
    for (const camera of cameras) {
      let tile = this.tiles.get(camera.id);
      if (!tile) {
        tile = new Tile(camera);
        this.tiles.set(camera.id, tile);
        this.observer.observe(tile.element);
      } else {
        tile.update(camera);
      }
    }
    const order = cameras.map((c) => c.id);
    if ([...this.grid.children].map((e) => e.dataset.camera).join("\n") !== order.join("\n")) {
      this.grid.append(...order.map((id) => this.tiles.get(id).element));
    }
    for (const [id, tile] of this.tiles) {
      if (!cameras.some((c) => c.id === id)) {
        this.observer.unobserve(tile.element);
        tile.remove();
        this.tiles.delete(id);
      }
    }
    this.fit();
    const online = cameras.filter((c) => c.online).length;
    $("summary").textContent = cameras.length
      ? `${cameras.length} camera${cameras.length === 1 ? "" : "s"}, ${online} online`
      : "No cameras yet";
    $("empty").hidden = cameras.length > 0;
    const form = $("logout");
    form.hidden = !listing.user;
    $("user").textContent = listing.user || "";
  }
}

new Dashboard();
