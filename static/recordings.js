// The recordings page: per camera a day timeline of recorded spans and motion events (from
// /api/recordings/<id>), a plain <video> playing clips (/api/recordings/<id>/clip.mp4, a
// progressive MP4 served with HTTP Range, so the browser seeks in it by itself), steps by
// seconds and minutes, and a download link. No build step, no third-party code.

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const video = $("video");

/** Longest clip asked for at once; playback moves on to the next clip at its end. */
const CLIP_SECONDS = 600;
const ZOOM_SECONDS = 3600;
const REFRESH_MS = 30000;

const page = {
  day: null,         // local midnight of the day shown (Date)
  cameras: [],       // [{id, state, mode, spans: [{start, end}], events: [{start, end, score}]}]
  selected: params.get("camera") || null,
  clip: null,        // {camera, start, duration, url, spanEnd}
  zoomFrom: null,    // start of the hour shown under the selected camera's day
  message: "",
  retriedAt: null,   // Date.now() of the last new try after a decode error
};
window.recordingsPage = page;

const seconds = (date) => date.getTime() / 1000;
const iso = (t) => new Date(t * 1000).toISOString();
const parseIso = (text) => Date.parse(text) / 1000;
const pad = (n) => String(n).padStart(2, "0");
const dayKey = (date) => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;

function dayBounds() {
  const d = page.day;
  // Local days: 23 or 25 hours long when the clocks change.
  return [seconds(d), seconds(new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1))];
}

function clock(t, withSeconds = true) {
  return new Date(t * 1000).toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit", ...(withSeconds ? { second: "2-digit" } : {}), hour12: false,
  });
}

function setMessage(text) {
  page.message = text;
  $("status-text").textContent = text;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
  return response.json();
}

// -- loading ----------------------------------------------------------------------------------

async function load() {
  const [from, to] = dayBounds();
  let listing;
  try {
    listing = await getJson("api/recordings");
  } catch (e) {
    setMessage(`Cannot list recordings: ${e.message}`);
    return;
  }
  const cameras = [];
  for (const camera of listing.cameras) {
    try {
      const data = await getJson(`api/recordings/${encodeURIComponent(camera.id)}` +
        `?start=${encodeURIComponent(iso(from))}&end=${encodeURIComponent(iso(to))}`);
      cameras.push({
        id: camera.id, state: camera.state, mode: camera.mode,
        spans: data.spans.map((s) => ({ start: parseIso(s.start), end: parseIso(s.start) + s.duration })),
        events: data.events.map((e) => ({
          start: parseIso(e.start), end: parseIso(e.start) + (e.duration ?? 0), score: e.score,
        })),
      });
    } catch (e) {
      cameras.push({ id: camera.id, state: camera.state, mode: camera.mode, spans: [], events: [], error: e.message });
    }
  }
  page.cameras = cameras;
  if (!page.selected && cameras.length) page.selected = cameras[0].id;
  const recorded = cameras.filter((c) => c.spans.length).length;
  setMessage(cameras.length
    ? `${recorded} of ${cameras.length} camera${cameras.length > 1 ? "s" : ""} recorded on ${dayKey(page.day)}`
    : "No recordings yet");
  render();
}

// -- drawing ----------------------------------------------------------------------------------

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  Object.assign(node, attrs);
  return node;
}

function timeline(camera, from, to, zoom) {
  const bar = el("div", `timeline${zoom ? " zoom" : ""}`);
  bar.dataset.camera = camera.id;
  bar.dataset.from = from;
  bar.dataset.to = to;
  const place = (node, start, end) => {
    const left = Math.max(0, (start - from) / (to - from));
    const right = Math.min(1, (end - from) / (to - from));
    node.style.left = `${left * 100}%`;
    node.style.width = `${Math.max(0, right - left) * 100}%`;
    return node;
  };
  const step = zoom ? 600 : 3 * 3600;
  for (let t = Math.ceil(from / step) * step; t < to; t += step) {
    // A label centred on a tick at the bar's edge would be cut off by it (00:00 read "00"):
    // near the edges it starts or ends at its tick instead.
    const at = (t - from) / (to - from);
    const edge = at < 0.06 ? " start" : at > 0.94 ? " end" : "";
    const tick = el("span", `tick${edge}`, { textContent: clock(t, false) });
    tick.style.left = `${at * 100}%`;
    bar.append(tick);
  }
  for (const span of camera.spans) {
    if (span.end <= from || span.start >= to) continue;
    bar.append(place(el("div", "span", { title: `${clock(span.start)}–${clock(span.end)}` }), span.start, span.end));
  }
  for (const event of camera.events) {
    if (event.end < from || event.start >= to) continue;
    bar.append(place(el("div", "event", {
      title: `motion ${clock(event.start)} (score ${event.score})`,
    }), event.start, Math.max(event.end, event.start + 1)));
  }
  bar.append(el("div", "cursor", { hidden: true }));
  bar.addEventListener("click", (e) => {
    const rect = bar.getBoundingClientRect();
    const t = from + ((e.clientX - rect.left) / rect.width) * (to - from);
    // A short span is a few pixels wide: a click near it counts.
    const tolerance = Math.max(5, ((to - from) * 12) / rect.width);
    page.selected = camera.id;
    play(camera.id, t, tolerance);
  });
  return bar;
}

function render() {
  const [from, to] = dayBounds();
  const rows = page.cameras.map((camera) => {
    const row = el("div", `camera-row${camera.id === page.selected ? " selected" : ""}`);
    const total = camera.spans.reduce((sum, s) => sum + (s.end - s.start), 0);
    const info = [camera.mode !== "off" ? `${camera.mode}, ${camera.state}` : "not recording",
      `${(total / 60).toFixed(total < 600 ? 1 : 0)} min`,
      camera.events.length ? `${camera.events.length} motion events` : "",
      camera.error || ""].filter(Boolean).join(" · ");
    const title = el("h2");
    title.append(el("span", "", { textContent: camera.id }), el("span", "info", { textContent: info }));
    row.append(title, timeline(camera, from, to, false));
    if (camera.id === page.selected) {
      if (page.zoomFrom == null || page.zoomFrom < from - ZOOM_SECONDS || page.zoomFrom > to) {
        const last = camera.spans.at(-1);
        page.zoomFrom = zoomAround(last ? last.end : Math.min(Date.now() / 1000, to));
      }
      row.append(timeline(camera, page.zoomFrom, page.zoomFrom + ZOOM_SECONDS, true));
    }
    row.addEventListener("focusin", () => { page.selected = camera.id; });
    return row;
  });
  $("timelines").replaceChildren(...rows);
  for (const a of document.querySelectorAll("a[data-live]")) {
    a.search = page.selected ? `?camera=${encodeURIComponent(page.selected)}` : "";
  }
  $("live-link").search = page.selected ? `?camera=${encodeURIComponent(page.selected)}` : "";
  drawCursor();
}

function zoomAround(t) {
  return Math.floor((t - ZOOM_SECONDS / 2) / 60) * 60;
}

function drawCursor() {
  const now = page.clip ? page.clip.start + (video.currentTime || 0) : null;
  for (const bar of document.querySelectorAll(".timeline")) {
    const cursor = bar.querySelector(".cursor");
    const from = Number(bar.dataset.from), to = Number(bar.dataset.to);
    const show = now != null && bar.dataset.camera === page.clip.camera && now >= from && now < to;
    cursor.hidden = !show;
    if (show) cursor.style.left = `${((now - from) / (to - from)) * 100}%`;
  }
  $("position").textContent = now == null ? "–"
    : `${page.clip.camera} · ${dayKey(new Date(now * 1000))} ${clock(now)}`;
}

// -- playing ----------------------------------------------------------------------------------

/** The recorded moment to play for a wish of ``t``: inside a span, else the nearest span within
 * ``tolerance`` seconds (or, with ``direction``, the next span that way). */
function pick(camera, t, tolerance, direction = 0) {
  let best = null;
  for (const span of camera.spans) {
    if (t >= span.start && t < span.end) return { t, span };
    const distance = t < span.start ? span.start - t : t - span.end;
    const ahead = t < span.start;
    if (direction > 0 && !ahead) continue;
    if (direction < 0 && ahead) continue;
    if ((direction || distance <= tolerance) && (!best || distance < best.distance)) {
      // Before a span, or near one too short to aim at: its start; just after one: its end.
      const short = span.end - span.start < 2 * tolerance;
      best = { distance, span, t: ahead || short ? span.start : Math.max(span.start, span.end - 1) };
    }
  }
  return best;
}

async function play(cameraId, t, tolerance = 5, direction = 0) {
  const camera = page.cameras.find((c) => c.id === cameraId);
  if (!camera) return;
  const found = pick(camera, t, tolerance, direction);
  if (!found) {
    setMessage(`Nothing recorded from ${cameraId} at ${clock(t)}`);
    render();
    return;
  }
  const start = found.t;
  const duration = Math.max(1, Math.min(CLIP_SECONDS, found.span.end - start));
  const url = `api/recordings/${encodeURIComponent(cameraId)}/clip.mp4?start=` +
    `${encodeURIComponent(iso(start))}&duration=${duration.toFixed(3)}`;
  let head;
  try {
    head = await fetch(url, { method: "HEAD", cache: "no-store" });
  } catch (e) {
    setMessage(`Server unreachable: ${e.message}`);
    return;
  }
  if (!head.ok) {
    setMessage(`No clip at ${clock(start)} (${head.status})`);
    return;
  }
  const clipStart = parseIso(head.headers.get("X-Clip-Start"));
  const clipDuration = Number(head.headers.get("X-Clip-Duration"));
  page.selected = cameraId;
  page.clip = { camera: cameraId, start: clipStart, duration: clipDuration, url, spanEnd: found.span.end };
  if (start < page.zoomFrom || start >= page.zoomFrom + ZOOM_SECONDS) page.zoomFrom = zoomAround(start);
  $("empty").hidden = true;
  const download = $("download");
  download.href = `${url}&download=1`;
  download.removeAttribute("aria-disabled");
  // The clip starts at the keyframe before the wish: start playing at the wish itself.
  video.addEventListener("loadedmetadata", () => {
    video.currentTime = Math.max(0, start - clipStart);
    video.play().catch(() => { /* autoplay refused: the controls are there */ });
  }, { once: true });
  video.src = url;
  params.set("camera", cameraId);
  params.set("t", iso(start));
  params.set("day", dayKey(page.day));
  history.replaceState(null, "", `${location.pathname}?${params}`);
  setMessage(`Playing ${cameraId} from ${clock(start)}`);
  render();
}

function step(delta) {
  const clip = page.clip;
  if (!clip) return;
  const target = clip.start + video.currentTime + delta;
  if (target >= clip.start && target < clip.start + clip.duration - 0.2) {
    video.currentTime = target - clip.start;
  } else {
    play(clip.camera, target, 0, Math.sign(delta));
  }
}

video.addEventListener("timeupdate", () => {
  drawCursor();
  const clip = page.clip;
  if (clip) {
    const now = clip.start + video.currentTime;
    if (now < page.zoomFrom || now >= page.zoomFrom + ZOOM_SECONDS) {
      page.zoomFrom = zoomAround(now);
      render();
    }
  }
});

video.addEventListener("ended", () => {
  // Play on into the next clip while there is more recorded.
  const clip = page.clip;
  if (clip) play(clip.camera, clip.start + clip.duration, 2.5, 1);
});

video.addEventListener("error", () => {
  const clip = page.clip;
  if (!clip) return;
  // WebKitGTK (GStreamer) now and then fails a clip it plays on a second try ("Failed to send
  // data for decoding", about one load in five in the tests): try once more from where it
  // stopped before giving up on it.
  const now = Date.now();
  if (video.error?.code === MediaError.MEDIA_ERR_DECODE && !(now - page.retriedAt < 10000)) {
    page.retriedAt = now;
    play(clip.camera, clip.start + (video.currentTime || 0), 2.5);
    return;
  }
  setMessage(`The browser cannot play this clip (${video.error?.message || video.error?.code})`);
});

// -- controls ---------------------------------------------------------------------------------

function setDay(date) {
  page.day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  $("day").value = dayKey(page.day);
  page.zoomFrom = null;
  load();
}

$("prev-day").addEventListener("click", () => setDay(new Date(page.day.getFullYear(), page.day.getMonth(), page.day.getDate() - 1)));
$("next-day").addEventListener("click", () => setDay(new Date(page.day.getFullYear(), page.day.getMonth(), page.day.getDate() + 1)));
$("day").addEventListener("change", (e) => {
  const [y, m, d] = e.target.value.split("-").map(Number);
  if (y && m && d) setDay(new Date(y, m - 1, d));
});
$("back-min").addEventListener("click", () => step(-60));
$("back-10").addEventListener("click", () => step(-10));
$("fwd-10").addEventListener("click", () => step(10));
$("fwd-min").addEventListener("click", () => step(60));

const wanted = params.get("t") ? parseIso(params.get("t")) : null;
const dayParam = (params.get("day") || "").split("-").map(Number);
let first = new Date();
if (dayParam.length === 3 && dayParam.every(Boolean)) first = new Date(dayParam[0], dayParam[1] - 1, dayParam[2]);
else if (wanted) first = new Date(wanted * 1000);
page.day = new Date(first.getFullYear(), first.getMonth(), first.getDate());
$("day").value = dayKey(page.day);
load().then(() => {
  if (wanted && page.selected) play(page.selected, wanted, 60);
});
setInterval(() => {
  const [from, to] = dayBounds();
  const now = Date.now() / 1000;
  if (now >= from && now < to + 60 && !document.hidden) load();
}, REFRESH_MS);
