// The MJPEG page: each WebSocket message is a 12-byte header (u32 sequence, f64 server arrival
// Unix ms, big-endian) and a JPEG, decoded with createImageBitmap and drawn on a canvas at once.
// While one JPEG decodes, only the newest that arrives meanwhile is kept: stale frames are
// dropped, never queued, so the picture cannot fall behind.

import { PageController, localNow, params } from "./common.js";

// Set when the H.264 page sent the browser here because it cannot play H.264 (mse-player.js).
const FALLBACK_REASONS = {
  "no-mse": "this browser has no Media Source Extensions",
  "no-h264": "this browser cannot decode H.264 video",
  "codec": "this browser cannot decode this camera's H.264 video",
};
const fallback = FALLBACK_REASONS[params.get("fallback")] ? params.get("fallback") : null;

class MjpegPlayer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false, desynchronized: true });
    this.error = "";
    this.decoding = false;
    this.pending = null;
    this.generation = 0;
    this.skipped = 0;
    this.decodeMs = null;
    this.badFrames = 0;
    this.unpainted = null;
    this.paintRequested = false;
    // A hidden page paints nothing: keep only the newest JPEG and decode it when shown again.
    document.addEventListener("visibilitychange", () => this.resume());
  }

  attach(connection, stats, page) {
    this.connection = connection;
    this.stats = stats;
    this.page = page;
  }

  opened() {}

  closed() {
    this.pending = null;  // keep the last picture on the canvas
  }

  json(message) {
    if (message.type === "stream") this.generation++;
  }

  binary(data) {
    if (data.byteLength <= 12) return;
    const header = new DataView(data, 0, 12);
    const frame = {
      seq: header.getUint32(0),
      arrival: header.getFloat64(4),
      blob: new Blob([new Uint8Array(data, 12)], { type: "image/jpeg" }),
      received: localNow(),
      generation: this.generation,
    };
    if (this.decoding || document.hidden) {
      if (this.pending) this.skipped++;
      this.pending = frame;
      return;
    }
    this.decode(frame);
  }

  async decode(frame) {
    this.decoding = true;
    try {
      const bitmap = await createImageBitmap(frame.blob);
      if (frame.generation === this.generation) {
        const c = this.canvas;
        if (c.width !== bitmap.width || c.height !== bitmap.height) {
          c.width = bitmap.width;
          c.height = bitmap.height;
        }
        this.ctx.drawImage(bitmap, 0, 0);
        this.decodeMs = localNow() - frame.received;
        this.stats.width = bitmap.width;
        this.stats.height = bitmap.height;
        this.shownAtNextPaint(frame);
      }
      bitmap.close();
    } catch (e) {
      this.badFrames++;  // a corrupt JPEG: skip it
    } finally {
      this.decoding = false;
      this.resume();
    }
  }

  /** A drawn canvas reaches the screen with the next paint: time the frame there. If two are
   *  drawn before one paint, only the second is ever seen. */
  shownAtNextPaint(frame) {
    if (this.unpainted) this.skipped++;
    this.unpainted = frame;
    if (this.paintRequested) return;
    this.paintRequested = true;
    requestAnimationFrame(() => {
      this.paintRequested = false;
      const f = this.unpainted;
      this.unpainted = null;
      if (f && f.generation === this.generation) this.stats.frameShown(f.arrival, localNow());
    });
  }

  resume() {
    if (!document.hidden && !this.decoding && this.pending) {
      const next = this.pending;
      this.pending = null;
      this.decode(next);
    }
  }

  reset() {
    this.generation++;
    this.pending = null;
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  extraStats() {
    return {
      decode: this.decodeMs == null ? "–" : `${this.decodeMs.toFixed(1)} ms`,
      skipped: String(this.skipped),
      bad: String(this.badFrames),
      path: fallback ? "MJPEG canvas (H.264 fallback)" : "MJPEG canvas",
    };
  }
}

if (fallback) {
  const codec = /^avc1\.[0-9a-fA-F]{6}$/.test(params.get("codec") || "") ? ` (${params.get("codec")})` : "";
  const notice = document.getElementById("notice");
  notice.textContent = `H.264 is not available: ${FALLBACK_REASONS[fallback]}${codec}. `
    + "This is the same camera as JPEG pictures, which needs more bandwidth.";
  notice.hidden = false;
}

const player = new MjpegPlayer(document.getElementById("canvas"));
window.livePlayer = player;
new PageController({ format: "mjpeg", player });
