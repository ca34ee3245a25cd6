// The H.264 page's MSE path: the server's fMP4 (one fragment per frame) through Media Source
// Extensions, held at the live edge by a small controller. (static/h264-page.js picks the path:
// WebCodecs where it exists, this one otherwise.)
//
// Media time = the frame's arrival time at the server, in seconds after the stream's epoch_ms,
// so the delay of a shown frame is (server clock when shown) - (epoch_ms + mediaTime * 1000),
// with the frame's mediaTime and display time from requestVideoFrameCallback.

import { localNow, median, params } from "./common.js";
import { parseFragment } from "./fmp4.js";

// -- The player --------------------------------------------------------------------------------

const TIMESCALE = 90000;

// Firefox shows an MSE frame late by most of its declared duration. With the server's 1 s
// (camserver/ingest/packager.py says why) the picture ran
// 26 frames (840-910 ms) behind currentTime, read back from the frames' bar codes; declared
// 200, 100 and 50 ms gave 87, 47-55 and 38-39 ms glass-to-glass once settled (Firefox ESR 153,
// 30 fps, median over 6 s; 40-50 ms with 15 ms of camera jitter). Chrome's README figures were
// measured with 1 s, and WebKitGTK's delay was the same with 1 s and 50 ms. So in Gecko each
// fragment's declared duration is rewritten to 3 fragment intervals, at least 50 ms (with the
// server's repeats, fragments are <= 33 ms apart) and at most 1 s: MSE still treats a frame
// that comes over 2 durations after the previous one as a discontinuity (everything dropped up
// to the next keyframe), so a camera without repeats keeps room for 6 late intervals.
const GECKO = /Gecko\/\d/.test(navigator.userAgent);  // not "(KHTML, like Gecko)"
const SHORT_DURATION_MIN = 0.05;
const SHORT_DURATION_MAX = 1;

// Live-edge controller.
//
// It holds the LAG: how far currentTime runs behind the newest fragment's time moved on in real
// time since that fragment arrived, i.e. behind the camera. The target is one fragment interval
// plus a MARGIN. The server sends each picture twice, 2 ms apart, and the pair again every 33 ms
// until the next camera frame (camserver/ingest/stream.py): Chrome then renders every display refresh
// and plays on when a fragment is late. A fragment still has to be decoded before the refresh
// that should show it, or its picture comes a refresh late.
//
// The WAIT of each fragment (arrival on the socket -> expectedDisplayTime, from
// requestVideoFrameCallback) shows how close that is. A fragment can only be shown on a
// refresh, so when the lag changes the wait moves in whole refresh steps, and which step a lag
// gives depends on where the camera's frames fall between refreshes (different every run). So
// the waits steer the margin: when the lowest waits of the last 2 s (5th percentile) are under
// WAIT_FLOOR_MS it grows 2 ms; when they are more than a refresh + 4 ms above it, it shrinks
// 1 ms; at most one step a second, on target. The wait settles on the lowest refresh step at or
// above the floor, and the delay cannot creep up over hours. A stall ("waiting": Chrome ran out
// of video) adds STALL_STEP_MS at once (a burst of stalls counts once). When fragments wait less
// than half an interval, Chrome is showing them as they come (after a stall): slow down until
// they queue again.
const MARGIN_MS = Number(params.get("margin_ms")) || 20;
const WAIT_FLOOR_MS = Number(params.get("wait_floor_ms")) || 25;
const STALL_STEP_MS = 4;
const MAX_MARGIN_MS = 250;
const ADAPT = params.get("adapt") !== "0";
const SEEK_SECONDS = 1.0;   // further behind than this (or in a gap): jump to the live edge
const MAX_SPEEDUP = 0.25;   // playbackRate at most 1.25 while catching up...
const MAX_SLOWDOWN = 0.1;   // ...and at least 0.9 while letting the buffer grow
const KEEP_SECONDS = 6;     // media kept behind currentTime; older is removed from the buffer

export class MsePlayer {
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
    this.frameInterval = 1 / 30;  // seconds, smoothed from the frames' times
    this.lastFragmentStart = null;  // media seconds of the newest frame
    this.lastFragmentAt = 0;        // performance.now() when it arrived
    this.lag = null;
    this.stalls = 0;
    this.seeks = 0;
    this.cameraFramesMissed = 0;
    this.lastCameraTime = null;  // media time (ticks) of the camera frame shown last
    this.margin = MARGIN_MS;  // ms: the adaptive part of the target, see MARGIN_MS
    this.steering = 0;        // +1 catching up, -1 falling back, 0 on target
    this.received = [];       // [media time (ticks), performance.now(), repeat] of recent fragments
    this.waits = [];          // [performance.now(), wait ms] of fragments shown in the last 2 s
    this.lastMarginChange = 0;
    this.wait = null;         // median of the recent waits, ms
    this.lastStallAt = performance.now();
    this.lastSeekAt = 0;
    this.lastTrim = 0;
    this.rvfc = null;
    this.frameCallbacks = 0;             // requestVideoFrameCallback calls so far
    this.ticksWithoutFrameCallback = 0;  // see checkFrameCallbacks()
    this.lastTickTime = null;
    // A stall: playback ran out of video while the camera was sending (not a seek, not the
    // start, not a camera that left).
    video.addEventListener("waiting", () => {
      const settling = performance.now() - this.lastSeekAt < 2000;  // a seek's own cost
      if (this.sb && !video.seeking && !settling && this.stats.flowing
          && this.page?.cameraState !== "offline") {
        this.stalls++;
        // Stalls in a burst count once: one late delivery, one step.
        if (ADAPT && performance.now() - this.lastStallAt > 2000) {
          this.margin = Math.min(MAX_MARGIN_MS, this.margin + STALL_STEP_MS);
        }
        this.lastStallAt = performance.now();
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
      // The interval between fragments (camera frames and the server's repeats of them: one
      // display refresh while repeats come), from their own times (their declared durations
      // are only the server's guess, made before the next frame existed).
      const start = fragment.time / TIMESCALE;
      if (this.lastFragmentStart != null) {
        const d = start - this.lastFragmentStart;
        if (d > 0 && d < 1) this.frameInterval += (d - this.frameInterval) * 0.05;
      }
      this.lastFragmentStart = start;
      this.lastFragmentAt = performance.now();
      this.received.push([fragment.time, this.lastFragmentAt, fragment.repeat]);
      if (this.received.length > 120) this.received.splice(0, 60);
      if (GECKO && fragment.durationAt != null) {
        const seconds = Math.min(SHORT_DURATION_MAX, Math.max(SHORT_DURATION_MIN,
                                                              3 * this.frameInterval));
        new DataView(data).setUint32(fragment.durationAt, Math.round(seconds * TIMESCALE));
      }
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
    return {
      margin: `${this.margin.toFixed(0)} ms`,
      buffer: this.lag == null ? "–"
        : `${(this.lag * 1000).toFixed(0)} ms (target ${(this.target * 1000).toFixed(0)})`,
      wait: this.wait == null ? "–" : `${this.wait.toFixed(0)} ms`,
      rate: `${v.playbackRate.toFixed(2)}×`,
      stalls: String(this.stalls),
      seeks: String(this.seeks),
      // Camera frames whose picture never reached the screen. (Chrome's droppedVideoFrames
      // also counts every camera frame painted through its repeat, i.e. nearly all of them.)
      dropped: String(this.cameraFramesMissed),
      codec: this.codec || "–",
      path: this.path(),
    };
  }

  /** Which way video reaches the screen, for the statistics (and the engine tests). */
  path() {
    const api = window.ManagedMediaSource ? "MSE (ManagedMediaSource)" : "MSE";
    return this.fallbackRunning ? `${api}, timed by currentTime` : api;
  }

  // -- MediaSource plumbing --

  teardown() {
    this.queue = [];
    this.pendingInit = null;
    this.sb = null;
    this.codec = null;
    this.lag = null;
    this.wait = null;
    this.waits = [];
    this.received = [];
    this.lastCameraTime = null;
    this.steering = 0;
    this.lastFragmentStart = null;
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
    const MS = mediaSourceClass();
    if (!MS) {
      fallBackToMjpeg("no-mse");
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
        if (!ms.constructor.isTypeSupported(type)) {
          // This camera's H.264 (e.g. High profile from a hardware encoder) is not playable
          // here although Constrained Baseline is: retrying cannot help.
          fallBackToMjpeg("codec", op.codec);
          return;
        }
        if (!this.sb) {
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
    const now = v.currentTime;
    const frame = Math.min(Math.max(this.frameInterval, 1 / 60), 0.25);
    const target = frame + this.margin / 1000;
    this.target = target;
    // The newest frame's time moves on in real time since it arrived (for at most two frame
    // intervals, so a camera that stops does not look like falling behind).
    const sinceFrame = Math.min((performance.now() - this.lastFragmentAt) / 1000, 2 * frame);
    const end = this.lastFragmentStart != null
      ? Math.min(ranges.end(last), this.lastFragmentStart + sinceFrame) : ranges.end(last);
    const lag = end - now;
    this.lag = lag;

    if (v.paused && !v.seeking && document.getElementById("play-overlay").hidden) this.play();
    if (v.seeking) return;
    this.checkFrameCallbacks();

    // In a gap (camera came back, first data) or far behind (a hidden tab, a long outage): jump
    // to the live edge, the target's distance behind the newest frame.
    if (now < liveStart || lag > Math.max(SEEK_SECONDS, 10 * frame)) {
      v.currentTime = Math.max(liveStart, end - target);
      this.seeks++;
      this.lastSeekAt = performance.now();
      this.waits = [];
      this.steering = 0;
      v.playbackRate = 1;
      return;
    }

    // Otherwise steer the speed: once the lag is off the target by more than 0.15 frame, play a
    // little faster (behind) or slower (too close to the newest frame), proportionally but by at
    // least 2%, until it is back on target; then normal speed again.
    const t = performance.now();
    while (this.waits.length && this.waits[0][0] < t - 2000) this.waits.shift();
    const latest = this.waits.filter((w) => w[0] >= t - 400).map((w) => w[1]);
    this.wait = latest.length >= 4 ? median(latest) : null;
    this.adaptMargin(t, frame);
    const error = lag - target;
    const underflowing = this.wait != null && this.wait < 500 * frame;
    if (underflowing) this.steering = -1;
    else if (!this.steering && Math.abs(error) > 0.15 * frame) this.steering = Math.sign(error);
    if (!underflowing && this.steering * error <= 0.03 * frame) this.steering = 0;
    if (this.steering > 0 && t - this.lastStallAt < 1000) this.steering = 0;  // let a stall settle
    let rate = 1;
    if (this.steering > 0) rate = 1 + Math.min(MAX_SPEEDUP, Math.max(0.02, error * 2));
    else if (this.steering < 0) {
      rate = 1 - Math.min(MAX_SLOWDOWN, Math.max(underflowing ? 0.05 : 0.02, -error * 2));
    }
    if (Math.abs(v.playbackRate - rate) > 0.005) v.playbackRate = rate;

    // Trim old media so the buffer stays small for hours.
    if (t - this.lastTrim > 2000 && !this.sb.updating) {
      this.lastTrim = t;
      const trimEnd = Math.min(now, end) - KEEP_SECONDS;
      if (ranges.start(0) < trimEnd - 1) {
        this.queue.unshift({ kind: "remove", start: 0, end: trimEnd });
        this.pump();
      }
    }
  }

  /** The margin from the fragments' waits (see the comment on the controller). */
  adaptMargin(t, frame) {
    if (!ADAPT || this.steering || this.waits.length < 30 || t - this.lastMarginChange < 1000
        || t - this.lastSeekAt < 2000 || t - this.lastStallAt < 2000) return;
    const waits = this.waits.map((w) => w[1]).sort((a, b) => a - b);
    const low = waits[Math.floor(waits.length * 0.05)];
    if (low < WAIT_FLOOR_MS) {
      this.margin = Math.min(MAX_MARGIN_MS, this.margin + 2);
      this.lastMarginChange = t;
    } else if (low > WAIT_FLOOR_MS + frame * 1000 + 4 && this.margin >= 1) {
      this.margin -= 1;
      this.lastMarginChange = t;
    }
  }

  // -- frame timing --

  /** [media time (ticks), performance.now() at arrival, repeat] of the fragment of media time
   * `mediaTime` (s), or null. */
  fragmentAt(mediaTime) {
    const ticks = Math.round(mediaTime * TIMESCALE);
    for (let i = this.received.length - 1; i >= 0; i--) {
      const entry = this.received[i];
      if (Math.abs(entry[0] - ticks) <= 1) return entry;
      if (entry[0] < ticks - 1) break;
    }
    return null;
  }

  /** Media time (ticks) of the newest camera frame (not a repeat) at or before `ticks`. */
  cameraFrameBefore(ticks) {
    for (let i = this.received.length - 1; i >= 0; i--) {
      const [time, , repeat] = this.received[i];
      if (time <= ticks && !repeat) return time;
    }
    return null;
  }

  watchFrames() {
    const v = this.video;
    if (!v.requestVideoFrameCallback || this.fallbackRunning) {
      this.watchFramesFallback();
      return;
    }
    if (this.rvfc != null) v.cancelVideoFrameCallback(this.rvfc);
    const onFrame = (now, meta) => {
      this.rvfc = v.requestVideoFrameCallback(onFrame);
      this.frameCallbacks++;
      if (this.epoch == null) return;
      const shown = meta.expectedDisplayTime || now;
      this.stats.width = meta.width;
      this.stats.height = meta.height;
      const fragment = this.fragmentAt(meta.mediaTime);
      let cameraTime = meta.mediaTime * TIMESCALE;
      if (fragment != null) {
        this.waits.push([performance.now(), shown - fragment[1]]);
        // A repeat shows the camera frame before it; count each camera frame once, when its
        // picture first reaches the screen, as having arrived when that frame did.
        cameraTime = fragment[2] ? this.cameraFrameBefore(fragment[0]) : fragment[0];
        if (cameraTime == null || cameraTime === this.lastCameraTime) return;
        if (this.lastCameraTime != null) {
          this.cameraFramesMissed += this.received.filter(
            ([time, , repeat]) => !repeat && time > this.lastCameraTime && time < cameraTime).length;
        }
        this.lastCameraTime = cameraTime;
      }
      this.stats.frameShown(this.epoch + (cameraTime / TIMESCALE) * 1000,
                            performance.timeOrigin + shown);
    };
    this.rvfc = v.requestVideoFrameCallback(onFrame);
  }

  /** WebKitGTK without accelerated compositing (WEBKIT_DISABLE_COMPOSITING_MODE=1, a common
   * workaround for GPU driver trouble) plays MSE video
   * but never calls requestVideoFrameCallback: WebKitGTK 2.50 under Xvfb showed moving video
   * for 12 s with no callback, so the page said "Waiting for video" and counted no frame. Called
   * every 100 ms: after 2 s of playback (currentTime moving, page visible) without any callback
   * yet, frames are timed from currentTime instead. (A hidden page gets no callbacks in Chrome
   * either, so hidden time does not count. With accelerated compositing but no GPU, WebKitGTK
   * calls back only a few times a second, and once more than 2 s late: slow, but working.) */
  checkFrameCallbacks() {
    const v = this.video;
    if (this.fallbackRunning || !v.requestVideoFrameCallback) return;
    const moving = !v.paused && !document.hidden && v.readyState >= 2
      && this.lastTickTime != null && v.currentTime !== this.lastTickTime;
    this.lastTickTime = v.currentTime;
    if (this.frameCallbacks > 0) return;  // slow callbacks are still callbacks
    this.ticksWithoutFrameCallback = moving ? this.ticksWithoutFrameCallback + 1 : 0;
    if (this.ticksWithoutFrameCallback >= 20) {
      console.warn("player: no requestVideoFrameCallback calls while playing; timing frames "
                   + "from currentTime");
      if (this.rvfc != null) v.cancelVideoFrameCallback(this.rvfc);
      this.rvfc = null;
      this.watchFramesFallback();
    }
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
      // Count each camera frame once, when the playhead reaches it (animation frames come far
      // more often than video frames where nothing waits for vsync: 110/s in WebKitGTK).
      const cameraTime = this.cameraFrameBefore(Math.round(v.currentTime * TIMESCALE) + 1);
      if (cameraTime == null) {
        this.stats.frameShown(this.epoch + v.currentTime * 1000, localNow());
      } else if (cameraTime !== this.lastCameraTime) {
        this.lastCameraTime = cameraTime;
        this.stats.frameShown(this.epoch + (cameraTime / TIMESCALE) * 1000, localNow());
      }
    };
    requestAnimationFrame(tick);
  }
}

// -- Where H.264 cannot play --------------------------------------------------------------------

/** The MediaSource to use: ManagedMediaSource where it exists (Safari 17+, needed on iPhone). */
export function mediaSourceClass() {
  return window.ManagedMediaSource || window.MediaSource || null;
}

// Constrained Baseline, level 3.0: what the server's x264 makes for 640x480 (the codec string
// of the real stream arrives with its init segment and is checked again there).
const BASELINE = 'video/mp4; codecs="avc1.42E01E"';

/** Why this browser cannot play the stream here ("no-mse", "no-h264"), or "". Firefox without
 * the system's libavcodec and WebKitGTK without gstreamer1.0-libav have MSE but no H.264. */
export function h264Missing() {
  const MS = mediaSourceClass();
  if (!MS) return "no-mse";
  return MS.isTypeSupported(BASELINE) ? "" : "no-h264";
}

/** Open the MJPEG page instead (same camera and options); it says why (client_mjpeg.html). */
export function fallBackToMjpeg(reason, codec) {
  const query = new URLSearchParams(params);
  query.set("fallback", reason);
  if (codec) query.set("codec", codec);
  console.warn(`player: H.264 cannot play here (${reason}${codec ? ` ${codec}` : ""}); `
               + "opening the MJPEG page");
  location.replace(`mjpeg?${query}`);
}
