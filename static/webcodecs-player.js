// The H.264 page's WebCodecs path: each fMP4 fragment's access unit goes to a VideoDecoder as
// it arrives (low-latency configuration, the avcC from the init segment as its description),
// and each decoded frame is drawn on a canvas at once. No media element, no buffer, no
// controller: the delay is the network, the decoder and the next display refresh.
//
// A frame that cannot be decoded in time is dropped, never queued: when the oldest frame in the
// decoder has waited longer than the late limit (six camera frame intervals, 150-400 ms: 200 ms
// at 30 fps), the decoder is reset (everything in it is dropped) and the page waits for the next
// keyframe (the server makes one every --gop seconds, 1 s by default): a slow device shows fewer
// frames, never older ones, so the delay cannot grow with a slow device or a busy main thread.
// The limit is not lower because a short hiccup (the page's thread held up for 70 ms on a busy
// machine) clears by itself a few ms after it ends, while a reset freezes the picture until the
// next keyframe: with two intervals (67 ms) a busy CI machine froze it for 300 ms.
// The late limit is a time since submission, which a burst cannot trip: a page thread held up
// for a long while (a 20x throttled CPU) then runs the socket's waiting messages one after the
// other, all "just submitted". So the decoder also holds at most MAX_IN_FLIGHT frames once it
// has decoded one: more than that is a backlog whatever the clock says (14 were seen).

import { localNow } from "./common.js";
import { parseFragment, parseInit } from "./fmp4.js";

const TIMESCALE = 90000;
// What every browser that has WebCodecs decodes (the server's x264 makes Constrained Baseline).
const BASELINE = "avc1.42E01E";
const LATE_FRAMES = 6;
const LATE_MIN_MS = 150;
const LATE_MAX_MS = 400;
const MAX_IN_FLIGHT = 2 * LATE_FRAMES;
// A drawn frame not painted after this long means the engine paints slowly (see output()).
const PAINT_LATE_MS = 25;
// Decoder errors in a row (without a frame decoded between them) before giving up on WebCodecs.
const MAX_ERRORS = 3;

/** Why this page cannot use WebCodecs here ("" if it can). VideoDecoder exists only in a
 * secure context: https, or http on localhost. */
export async function webCodecsMissing(codec = BASELINE) {
  if (!window.isSecureContext) return "not a secure context (needs https, or http on localhost)";
  if (!window.VideoDecoder || !window.EncodedVideoChunk) return "this browser has no VideoDecoder";
  try {
    const { supported } = await VideoDecoder.isConfigSupported({ codec, optimizeForLatency: true });
    return supported ? "" : `its VideoDecoder cannot decode H.264 (${codec})`;
  } catch (e) {
    return `VideoDecoder.isConfigSupported failed: ${e.message || e}`;
  }
}

export class WebCodecsPlayer {
  /** `onFailure(reason)`: WebCodecs cannot play this stream here (the page falls back to MSE). */
  constructor(canvas, { onFailure } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false, desynchronized: true });
    this.onFailure = onFailure || (() => {});
    this.error = "";
    this.epoch = null;
    this.decoder = null;
    this.config = null;       // the VideoDecoder configuration of the current init segment
    this.pendingInit = null;  // the init message, waiting for its binary init segment
    this.needKey = true;      // drop frames until a keyframe (start, new init, after dropping)
    this.inFlight = [];       // [{timestamp (µs), submitted (performance.now())}] in the decoder
    this.warm = false;        // the decoder has output a frame since it was configured
    this.started = false;     // ... since it was made or given a new configuration (not reset)
    this.frameInterval = 1 / 30;  // seconds between camera frames, smoothed
    this.lastTime = null;
    this.decodeTimes = [];    // [performance.now(), ms] of the last second
    this.decodeMs = null;
    this.lateDrops = 0;       // times the decoder fell behind and was emptied
    this.framesDropped = 0;   // camera frames never decoded or thrown away for being late
    this.notShown = 0;        // decoded, but a newer frame came before the screen could show it
    this.errors = 0;
    this.generation = 0;
    this.unpainted = null;    // drawn, not yet painted: {arrival, generation}
    this.waiting = null;      // a decoded VideoFrame waiting for that paint (the newest only)
    this.paintRequested = false;
    this.codec = null;
    // A hidden page paints nothing: decode nothing either, and start again at a keyframe.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) this.dropAll(false);
    });
  }

  attach(connection, stats, page) {
    this.connection = connection;
    this.stats = stats;
    this.page = page;
  }

  // -- connection callbacks --

  opened() {}

  closed() {
    this.pendingInit = null;  // keep the last picture until the next stream starts
  }

  json(message) {
    if (message.type === "stream") {
      this.epoch = Number(message.epoch_ms);
      this.generation++;
      this.dropAll(false);
      this.lastTime = null;
    } else if (message.type === "init") {
      this.pendingInit = message;
    }
  }

  binary(data) {
    if (this.pendingInit) {
      const message = this.pendingInit;
      this.pendingInit = null;
      this.configure(message, data);
      return;
    }
    if (!this.config) return;
    const fragment = parseFragment(data);
    if (!fragment || !fragment.sample) return;
    if (fragment.repeat) return;  // the server's repeat pictures are for MSE only
    const start = fragment.time / TIMESCALE;
    if (this.lastTime != null) {
      const d = start - this.lastTime;
      if (d > 0 && d < 1) this.frameInterval += (d - this.frameInterval) * 0.1;
    }
    this.lastTime = start;
    if (document.hidden) {
      this.framesDropped++;
      return;
    }
    if (this.late() || (this.started && this.inFlight.length >= MAX_IN_FLIGHT)) this.dropAll(true);
    if (this.needKey && !fragment.key) {
      this.framesDropped++;
      return;
    }
    this.needKey = false;
    this.decode(fragment);
  }

  reset() {
    // Disconnect: show nothing.
    this.generation++;
    this.dropAll(false);
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.error = "";
  }

  // -- decoding --

  configure(message, initSegment) {
    const init = parseInit(initSegment);
    if (!init) {
      this.error = "bad init segment";
      return;
    }
    this.codec = message.codec;
    this.config = {
      codec: message.codec,
      description: init.avcC,
      codedWidth: init.width,
      codedHeight: init.height,
      optimizeForLatency: true,
    };
    // A new configuration (resolution, level) starts at a keyframe; what is in the decoder
    // belongs to the old one and is still shown as it comes out.
    this.needKey = true;
    if (!this.decoder || this.decoder.state === "closed") this.newDecoder();
    else this.decoder.configure(this.config);
    this.warm = false;
    this.started = false;
  }

  newDecoder() {
    const decoder = new VideoDecoder({
      output: (frame) => {
        if (this.decoder === decoder) this.output(frame);
        else frame.close();
      },
      error: (e) => { if (this.decoder === decoder) this.failed(e); },
    });
    this.decoder = decoder;
    decoder.configure(this.config);
    this.warm = false;
    this.started = false;
  }

  decode(fragment) {
    if (!this.decoder || this.decoder.state === "closed") this.newDecoder();
    const timestamp = Math.round((fragment.time / TIMESCALE) * 1e6);
    try {
      this.decoder.decode(new EncodedVideoChunk({
        type: fragment.key ? "key" : "delta", timestamp, data: fragment.sample,
      }));
    } catch (e) {
      this.failed(e);
      return;
    }
    this.inFlight.push({ timestamp, submitted: performance.now() });
  }

  /** The late limit (see the top of this file). */
  get lateMs() {
    return Math.min(LATE_MAX_MS, Math.max(LATE_MIN_MS, LATE_FRAMES * 1000 * this.frameInterval));
  }

  /** Whether the oldest frame in the decoder has waited past the late limit. Not before the
   * decoder's first frame: starting a decoder may take a while (and is not a backlog). */
  late() {
    return this.warm && this.inFlight.length > 0
      && performance.now() - this.inFlight[0].submitted > this.lateMs;
  }

  /** Throw away everything in the decoder and wait for a keyframe. `late`: because the
   * decoder (or this page) could not keep up, which the statistics count. */
  dropAll(late) {
    if (late) this.lateDrops++;
    this.framesDropped += this.inFlight.length;
    this.inFlight = [];
    this.needKey = true;
    if (this.waiting) {
      this.waiting.close();
      this.waiting = null;
    }
    if (this.decoder && this.decoder.state === "configured"
        && (this.decoder.decodeQueueSize > 0 || late)) {
      this.decoder.reset();  // drops what it holds; configure again for the next keyframe
      this.decoder.configure(this.config);
      this.warm = false;
    }
  }

  output(frame) {
    const entry = this.inFlight.findIndex((f) => f.timestamp === frame.timestamp);
    const now = performance.now();
    if (entry >= 0) {
      const { submitted } = this.inFlight[entry];
      this.framesDropped += entry;  // older ones the decoder did not give back
      this.inFlight.splice(0, entry + 1);
      this.decodeTimes.push([now, now - submitted]);
    }
    this.warm = true;
    this.started = true;
    this.errors = 0;
    if (this.unpainted && now - this.unpainted.drawnAt > PAINT_LATE_MS) {
      // The frame drawn last has waited for a paint longer than a refresh (an engine that
      // paints slowly, a busy page): drawing this one now would be work the screen may never
      // show. Keep the newest only; it is drawn at the next animation frame. (Not sooner:
      // Chrome presents a desynchronized canvas ~2 ms after each draw, without waiting for
      // the page's paint, so there every frame is drawn at once.)
      if (this.waiting) {
        this.waiting.close();
        this.notShown++;
      }
      this.waiting = frame;
      return;
    }
    this.draw(frame);
    this.shownAtNextPaint({ arrival: this.epoch + frame.timestamp / 1000,
                            generation: this.generation, drawnAt: now });
  }

  /** Draw `frame` on the canvas (resized to it) and close it. */
  draw(frame) {
    try {
      const c = this.canvas;
      const w = frame.displayWidth;
      const h = frame.displayHeight;
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
      }
      this.ctx.drawImage(frame, 0, 0, w, h);
      this.stats.width = w;
      this.stats.height = h;
    } finally {
      frame.close();
    }
  }

  /** A drawn canvas reaches the screen with the next paint: time the frame there (as the
   * MJPEG page does). A newer frame that waited for that paint is drawn in its place, and is
   * what the screen shows. */
  shownAtNextPaint(frame) {
    if (this.unpainted) this.notShown++;  // drawn over before the paint
    this.unpainted = frame;
    if (this.paintRequested) return;
    this.paintRequested = true;
    requestAnimationFrame(() => {
      this.paintRequested = false;
      const drawn = this.unpainted;
      const next = this.waiting;
      this.unpainted = this.waiting = null;
      if (next) {
        if (drawn) this.notShown++;
        const arrival = this.epoch + next.timestamp / 1000;
        this.draw(next);
        this.stats.frameShown(arrival, localNow());
      } else if (drawn && drawn.generation === this.generation) {
        this.stats.frameShown(drawn.arrival, localNow());
      }
    });
  }

  failed(e) {
    const message = `${e.name || "Error"}: ${e.message || e}`;
    console.warn("webcodecs player:", message);
    this.errors++;
    this.inFlight = [];
    this.needKey = true;
    if (this.decoder && this.decoder.state !== "closed") {
      try { this.decoder.close(); } catch (_) { /* closed already */ }
    }
    this.decoder = null;
    if (e.name === "NotSupportedError" || this.errors >= MAX_ERRORS) {
      this.onFailure(e.name === "NotSupportedError"
        ? `cannot decode ${this.codec}` : `decoder failed ${this.errors} times (${message})`);
      return;
    }
    this.error = "";  // a fresh decoder at the next keyframe
  }

  // -- statistics --

  extraStats() {
    const now = performance.now();
    while (this.decodeTimes.length && this.decodeTimes[0][0] < now - 1000) this.decodeTimes.shift();
    const times = this.decodeTimes.map((d) => d[1]).sort((a, b) => a - b);
    this.decodeMs = times.length ? times[times.length >> 1] : null;
    return {
      path: "WebCodecs",
      codec: this.codec || "–",
      decode: this.decodeMs == null ? "–" : `${this.decodeMs.toFixed(1)} ms`,
      queue: String(this.inFlight.length),
      dropped: `${this.framesDropped} (${this.lateDrops} late)`,
      notshown: String(this.notShown),
    };
  }
}
