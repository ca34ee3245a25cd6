// Small live plots for the statistics panel: one value over the last minute, drawn on a canvas
// (no library). The y axis starts at 0 and ends at a round number above the highest value, which
// is written in the corner, so a glance tells both the shape and the scale.

/** A round number >= v: 1, 2 or 5 times a power of ten. */
export function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * power).find((n) => n >= v);
}

export class Plot {
  /** `key`: the field of each history entry to plot; `format(value)`: its label; `spanMs`:
   * how much time the width shows. */
  constructor(canvas, key, format, spanMs = 60000) {
    this.canvas = canvas;
    this.spanMs = spanMs;
    this.key = key;
    this.format = format;
    this.ctx = canvas.getContext("2d");
  }

  /** Draw `history` ([{t: local ms, [key]: value or null}], oldest first). */
  draw(history) {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(c.clientWidth * ratio);
    const height = Math.round(c.clientHeight * ratio);
    if (!width || !height) return;  // not laid out (hidden)
    if (c.width !== width || c.height !== height) {
      c.width = width;
      c.height = height;
    }
    const ctx = this.ctx;
    ctx.clearRect(0, 0, width, height);
    const points = history.filter((p) => p[this.key] != null);
    const top = niceCeiling(Math.max(0, ...points.map((p) => p[this.key])) * 1.1);
    const now = history.length ? history[history.length - 1].t : 0;
    const x = (t) => width - ((now - t) / this.spanMs) * width;
    const y = (v) => height - 1 - (v / top) * (height - 2);
    // Grid: the middle line.
    ctx.strokeStyle = "#ffffff1a";
    ctx.lineWidth = ratio;
    ctx.beginPath();
    ctx.moveTo(0, Math.round(height / 2) + 0.5);
    ctx.lineTo(width, Math.round(height / 2) + 0.5);
    ctx.stroke();
    // The line, broken where there is no value.
    ctx.strokeStyle = "#3d8bfd";
    ctx.lineWidth = 1.5 * ratio;
    ctx.beginPath();
    let drawing = false;
    for (const p of history) {
      const v = p[this.key];
      if (v == null) { drawing = false; continue; }
      if (drawing) ctx.lineTo(x(p.t), y(v));
      else ctx.moveTo(x(p.t), y(v));
      drawing = true;
    }
    ctx.stroke();
    // The scale.
    ctx.fillStyle = "#9aa4b0";
    ctx.font = `${10 * ratio}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.fillText(points.length ? this.format(top) : "", 2 * ratio, 1 * ratio);
    this.canvas.dataset.points = String(points.length);
  }
}
