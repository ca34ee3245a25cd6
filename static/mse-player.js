// The H.264 page: the server's fMP4 (one fragment per frame) through Media Source Extensions,
// held at the live edge by a small controller.
//
// Media time = the frame's arrival time at the server, in seconds after the stream's epoch_ms,
// so the delay of a shown frame is (server clock when shown) - (epoch_ms + mediaTime * 1000),
// with the frame's mediaTime and display time from requestVideoFrameCallback.

import { PageController, localNow, params } from "./common.js";

// -- fMP4 fragment parsing (just enough: decode time, duration, keyframe) ------------------------

function boxes(view, start, end) {
  const out = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = view.getUint32(pos);
    const type = String.fromCharCode(view.getUint8(pos + 4), view.getUint8(pos + 5),
                                     view.getUint8(pos + 6), view.getUint8(pos + 7));
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < header || pos + size > end) break;
    out.push({ type, start: pos + header, end: pos + size });
    pos += size;
  }
  return out;
}

/** {time (90 kHz ticks), duration (ticks), key} of a moof+mdat fragment, or null. */
export function parseFragment(buffer) {
  const view = new DataView(buffer);
  const moof = boxes(view, 0, view.byteLength).find((b) => b.type === "moof");
  if (!moof) return null;
  const traf = boxes(view, moof.start, moof.end).find((b) => b.type === "traf");
  if (!traf) return null;
  let time = null;
  let duration = 0;
  let key = false;
  for (const b of boxes(view, traf.start, traf.end)) {
    const version = view.getUint8(b.start);
    const flags = view.getUint32(b.start) & 0xffffff;
    if (b.type === "tfdt") {
      time = version === 1 ? Number(view.getBigUint64(b.start + 4)) : view.getUint32(b.start + 4);
    } else if (b.type === "trun") {
      const count = view.getUint32(b.start + 4);
      let pos = b.start + 8;
      if (flags & 0x1) pos += 4;  // data offset
      let firstFlags = null;
      if (flags & 0x4) { firstFlags = view.getUint32(pos); pos += 4; }
      for (let i = 0; i < count; i++) {
        if (flags & 0x100) { duration += view.getUint32(pos); pos += 4; }
        if (flags & 0x200) pos += 4;
        let sampleFlags = null;
        if (flags & 0x400) { sampleFlags = view.getUint32(pos); pos += 4; }
        if (flags & 0x800) pos += 4;
        if (i === 0) {
          const f = firstFlags ?? sampleFlags;
          key = f != null && !((f >>> 16) & 1) && ((f >>> 24) & 3) !== 1;
        }
      }
    }
  }
  return time == null ? null : { time, duration, key };
}

// -- The player --------------------------------------------------------------------------------

const TIMESCALE = 90000;
// Live-edge controller. "lag" = end of buffered media - currentTime. The newest frame's buffered
// end is its start plus one frame interval, so lag ~ (frames waiting to be shown + 1) frames.
const TARGET_FRAMES = Number(params.get("target_frames")) || 2.2;  // aim: ~2 frames
const SEEK_SECONDS = 1.0;   // further behind than this (or in a gap): jump to the live edge
const MAX_SPEEDUP = 0.3;    // playbackRate at most 1.3 while catching up
const KEEP_SECONDS = 6;     // media kept behind currentTime; older is removed from the buffer

class MsePlayer {
  constructor(video) {
    this.video = video;
    this.error = "";
    this.epoch = null;
    this.ms = null;
    this.sb = null;
    this.codec = null;
    this.queue = [];
    this.pendingInit = null;
    this.needKey = true;
    this.frameInterval = 1 / 30;  // seconds, smoothed from fragment durations
    this.lastFragmentEnd = null;  // media seconds
    this.lag = null;
    this.stalls = 0;
    this.seeks = 0;
    this.lastTrim = 0;
    this.rvfc = null;
    this.lastPresented = 0;
    this.bufferedVideo = new Set();
    // A stall: playback ran out of video while the camera was sending (not a seek, not the
    // start, not a camera that left).
    video.addEventListener("waiting", () => {
      if (this.sb && !video.seeking && this.stats.flowing && this.page?.cameraState !== "offline") {
        this.stalls++;
      }
    });
    video.addEventListener("resize", () => {
      this.stats.width = video.videoWidth;
      this.stats.height = video.videoHeight;
    });
    video.addEventListener("error", () => this.fatal(`video error: ${video.error?.message || video.error?.code}`));
    const overlay = document.getElementById("play-overlay");
    overlay.addEventListener("click", () => { overlay.hidden = true; this.play(); });
    setInterval(() => this.control(), 100);
  }

  attach(connection, stats, page) {
    this.connection = connection;
    this.stats = stats;
    this.page = page;
  }

  // -- connection callbacks --

  opened() {}

  closed() {
    // Keep showing the last picture until the next connection starts a new stream.
    this.pendingInit = null;
  }

  json(message) {
    if (message.type === "stream") {
      this.epoch = Number(message.epoch_ms);
      this.newMediaSource();
    } else if (message.type === "init") {
      this.pendingInit = message;
    }
  }

  binary(data) {
    if (!this.ms) return;
    if (this.pendingInit) {
      const init = this.pendingInit;
      this.pendingInit = null;
      this.queue.push({ kind: "init", codec: init.codec, data });
      this.initInfo = init;
      this.needKey = true;
    } else {
      const fragment = parseFragment(data);
      if (!fragment) return;
      if (this.needKey && !fragment.key) return;  // a decoder can only start at a keyframe
      this.needKey = false;
      if (fragment.duration > 0) {
        const d = fragment.duration / TIMESCALE;
        this.frameInterval += (Math.min(d, 0.5) - this.frameInterval) * 0.1;
      }
      this.lastFragmentEnd = (fragment.time + fragment.duration) / TIMESCALE;
      this.queue.push({ kind: "media", data, key: fragment.key });
    }
    this.pump();
  }

  reset() {
    // Disconnect: stop and show nothing.
    this.teardown();
    this.video.removeAttribute("src");
    this.video.load();
    this.error = "";
  }

  extraStats() {
    const v = this.video;
    const quality = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    return {
      buffer: this.lag == null ? "–" : `${(this.lag * 1000).toFixed(0)} ms`,
      rate: `${v.playbackRate.toFixed(2)}×`,
      stalls: String(this.stalls),
      seeks: String(this.seeks),
      dropped: quality ? String(quality.droppedVideoFrames) : "–",
      codec: this.codec || "–",
    };
  }

  // -- MediaSource plumbing --

  teardown() {
    this.queue = [];
    this.pendingInit = null;
    this.sb = null;
    this.codec = null;
    this.lag = null;
    this.lastFragmentEnd = null;
    if (this.ms) {
      const ms = this.ms;
      this.ms = null;
      try { if (ms.readyState === "open") ms.endOfStream(); } catch (e) { /* closing anyway */ }
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }

  newMediaSource() {
    this.teardown();
    this.error = "";
    const MS = window.ManagedMediaSource || window.MediaSource;
    if (!MS) {
      this.error = "This browser has no Media Source Extensions; use the MJPEG page";
      return;
    }
    const ms = new MS();
    this.ms = ms;
    ms.addEventListener("sourceopen", () => this.pump());
    if (window.ManagedMediaSource && MS === window.ManagedMediaSource) {
      this.video.disableRemotePlayback = true;  // required by Safari's ManagedMediaSource
    }
    this.url = URL.createObjectURL(ms);
    this.video.src = this.url;
    this.watchFrames();
    this.play();
  }

  play() {
    const p = this.video.play();
    if (p && p.catch) {
      p.catch((e) => {
        if (e.name === "NotAllowedError") document.getElementById("play-overlay").hidden = false;
      });
    }
  }

  pump() {
    const ms = this.ms;
    if (!ms || ms.readyState !== "open") return;
    if (this.sb && this.sb.updating) return;
    const op = this.queue.shift();
    if (!op) return;
    try {
      if (op.kind === "init") {
        const type = `video/mp4; codecs="${op.codec}"`;
        if (!this.sb) {
          if (!MediaSource.isTypeSupported(type)) throw new Error(`${op.codec} is not supported here`);
          this.sb = ms.addSourceBuffer(type);
          this.sb.mode = "segments";
          this.sb.addEventListener("updateend", () => { this.control(); this.pump(); });
          this.sb.addEventListener("error", () => this.fatal("SourceBuffer error"));
        } else if (op.codec !== this.codec && this.sb.changeType) {
          this.sb.changeType(type);
        }
        this.codec = op.codec;
        this.sb.appendBuffer(op.data);
      } else if (op.kind === "media") {
        this.sb.appendBuffer(op.data);
      } else if (op.kind === "remove") {
        this.sb.remove(op.start, op.end);
      }
    } catch (e) {
      if (e.name === "QuotaExceededError" && op.kind === "media") {
        // Full: free everything behind the playhead and wait for the next keyframe.
        this.queue = this.queue.filter((o) => o.kind !== "media");
        this.needKey = true;
        const t = this.video.currentTime;
        if (t > 1) this.queue.unshift({ kind: "remove", start: 0, end: t - 0.5 });
        this.pump();
        return;
      }
      this.fatal(`${e.name}: ${e.message}`);
    }
  }

  fatal(message) {
    console.error("player:", message);
    if (!this.ms) return;
    this.error = message;
    this.teardown();
    // A fresh connection brings a fresh init segment and keyframe.
    setTimeout(() => { this.error = ""; this.connection.restart(); }, 1000);
  }

  // -- live-edge controller --

  control() {
    const v = this.video;
    if (!this.sb || !this.ms || v.buffered.length === 0) {
      this.lag = null;
      return;
    }
    const ranges = v.buffered;
    const last = ranges.length - 1;
    const liveStart = ranges.start(last);
    const end = ranges.end(last);
    const now = v.currentTime;
    const frame = Math.min(Math.max(this.frameInterval, 1 / 60), 0.25);
    const target = TARGET_FRAMES * frame;
    const lag = end - now;
    this.lag = lag;

    if (v.paused && !v.seeking && document.getElementById("play-overlay").hidden) this.play();

    // In a gap (camera came back, first data) or far behind: jump to the live edge.
    if (!v.seeking && (now < liveStart || lag > Math.max(SEEK_SECONDS, 10 * frame))) {
      v.currentTime = Math.max(liveStart, end - target);
      this.seeks++;
      v.playbackRate = 1;
      return;
    }
    // Catch up smoothly: proportional speed-up above the target, normal speed at or below it.
    let rate = 1;
    const excess = lag - target;
    if (excess > 0.5 * frame) rate = 1 + Math.min(MAX_SPEEDUP, excess * 2);
    if (Math.abs(v.playbackRate - rate) > 0.01) v.playbackRate = rate;

    // Trim old media so the buffer stays small for hours.
    const t = performance.now();
    if (t - this.lastTrim > 2000 && !this.sb.updating) {
      this.lastTrim = t;
      const trimEnd = Math.min(now, end) - KEEP_SECONDS;
      if (ranges.start(0) < trimEnd - 1) {
        this.queue.unshift({ kind: "remove", start: 0, end: trimEnd });
        this.pump();
      }
    }
  }

  // -- frame timing --

  watchFrames() {
    const v = this.video;
    if (!v.requestVideoFrameCallback) {
      this.watchFramesFallback();
      return;
    }
    if (this.rvfc != null) v.cancelVideoFrameCallback(this.rvfc);
    this.lastPresented = 0;
    const onFrame = (now, meta) => {
      this.rvfc = v.requestVideoFrameCallback(onFrame);
      if (this.epoch == null) return;
      const shown = performance.timeOrigin + (meta.expectedDisplayTime || now);
      this.stats.width = meta.width;
      this.stats.height = meta.height;
      this.stats.frameShown(this.epoch + meta.mediaTime * 1000, shown);
      this.lastFrameMeta = meta;
    };
    this.rvfc = v.requestVideoFrameCallback(onFrame);
  }

  watchFramesFallback() {
    if (this.fallbackRunning) return;
    this.fallbackRunning = true;
    let lastTime = -1;
    const tick = () => {
      requestAnimationFrame(tick);
      const v = this.video;
      if (this.epoch == null || v.currentTime === lastTime || v.readyState < 2) return;
      lastTime = v.currentTime;
      this.stats.width = v.videoWidth;
      this.stats.height = v.videoHeight;
      this.stats.frameShown(this.epoch + v.currentTime * 1000, localNow());
    };
    requestAnimationFrame(tick);
  }
}

const player = new MsePlayer(document.getElementById("video"));
window.livePlayer = player;
new PageController({ format: "fmp4", player });
