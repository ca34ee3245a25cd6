// The H.264 page (client.html): picks how the server's fMP4 reaches the screen.
//
// - WebCodecs (static/webcodecs-player.js) where VideoDecoder exists and decodes H.264: each
//   frame decoded as it arrives and drawn on a canvas at once, about MJPEG's delay. It asks the
//   server for no repeat pictures (&repeats=0): they exist for MSE only.
// - MSE (static/mse-player.js) otherwise, or when WebCodecs fails on this stream (the switch
//   happens in the page, on a new connection).
// - Neither: the MJPEG page (it says why).
//
// ?mode=mse or ?mode=webcodecs forces a path; a forced WebCodecs that is not available here
// plays through MSE with a notice that says why.

import { PageController, params } from "./common.js";
import { MsePlayer, fallBackToMjpeg, h264Missing } from "./mse-player.js";
import { WebCodecsPlayer, webCodecsMissing } from "./webcodecs-player.js";

const video = document.getElementById("video");
const canvas = document.getElementById("canvas");
const notice = document.getElementById("notice");

/** Stands for whichever player is in use, so the page controller never needs to know. */
class H264Player {
  constructor() {
    this.impl = null;
    this.why = "";  // why WebCodecs is not in use, when it is not
  }

  use(impl, why = "") {
    this.impl = impl;
    this.why = why;
    const webcodecs = impl instanceof WebCodecsPlayer;
    canvas.hidden = !webcodecs;
    video.hidden = webcodecs;
    document.body.dataset.path = webcodecs ? "webcodecs" : "mse";
    window.livePlayer = impl;
    if (this.connection) impl.attach(this.connection, this.stats, this.page);
  }

  get error() { return this.impl.error; }

  attach(connection, stats, page) {
    this.connection = connection;
    this.stats = stats;
    this.page = page;
    this.impl.attach(connection, stats, page);
  }

  opened() { this.impl.opened(); }
  closed() { this.impl.closed(); }
  json(message) { this.impl.json(message); }
  binary(data) { this.impl.binary(data); }
  reset() { this.impl.reset?.(); }
  snapshotSource() { return this.impl instanceof WebCodecsPlayer ? canvas : video; }

  extraStats() {
    const stats = this.impl.extraStats?.() || {};
    if (this.why) stats.path = `${stats.path} (no WebCodecs: ${this.why})`;
    return stats;
  }

  /** WebCodecs cannot play this stream here: carry on through MSE on a new connection. */
  switchToMse(reason) {
    console.warn(`player: WebCodecs failed (${reason}); switching to MSE`);
    const missing = h264Missing();
    if (missing) {
      fallBackToMjpeg(missing);
      return;
    }
    this.impl.reset?.();
    this.use(new MsePlayer(video), reason);
    this.stats.reset();
    this.connection.query = {};
    this.connection.restart();
  }
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
}

const mode = params.get("mode");
const player = new H264Player();
const why = mode === "mse" ? "" : await webCodecsMissing();
if (mode !== "mse" && !why) {
  player.use(new WebCodecsPlayer(canvas, { onFailure: (reason) => player.switchToMse(reason) }));
  new PageController({ format: "fmp4", query: { repeats: "0" }, player });
} else {
  const missing = h264Missing();
  if (missing) {
    fallBackToMjpeg(missing);
  } else {
    if (mode === "webcodecs") {
      showNotice(`WebCodecs was asked for (?mode=webcodecs) but is not available here: ${why}. `
                 + "Playing through Media Source Extensions instead.");
    }
    player.use(new MsePlayer(video), mode === "mse" ? "" : why);
    new PageController({ format: "fmp4", player });
  }
}
