// The camera's settings in the single-camera pages, for users who may change them: the camera
// must be listed with "control" among its actions in /api/cameras, which then also gives its
// current settings and the choices it accepts (from the camera's hello). Nothing is shown to
// anyone else.
//
// Apply posts only what changed to api/cameras/<id>/config (application/json). The server sends
// the settings to the camera, and passes the camera's config_ack (what it applied, what it
// rejected and why) and its new hello ({"type": "settings"}) to the viewers who may control it:
// this page shows the answer and the new values.

const LABELS = {
  framesize: "Frame size", quality: "Quality", fps: "Frame rate", vflip: "Flip", hmirror: "Mirror",
};
const KEYS = Object.keys(LABELS);
// How long to wait for the camera's answer before saying there is none.
const ACK_TIMEOUT_MS = 5000;

function element(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** "frame size SVGA, flip on" */
function describe(settings) {
  return Object.entries(settings).map(([k, v]) => {
    const label = (LABELS[k] || k).toLowerCase();
    return `${label} ${v === true ? "on" : v === false ? "off" : v}`;
  }).join(", ");
}

export class CameraControls {
  /** `root`: the (initially hidden) <details id="controls"> of the page; `currentCamera()`:
   * the id shown now; `refresh()`: poll /api/cameras again. */
  constructor(root, currentCamera, refresh) {
    this.root = root;
    this.currentCamera = currentCamera;
    this.refresh = refresh;
    this.cameraId = null;
    this.settings = {};
    this.choicesKey = null;
    this.dirty = false;
    this.ackTimer = null;
    if (!root) return;
    this.form = root.querySelector("form");
    this.answer = root.querySelector(".answer");
    this.form.addEventListener("input", () => { this.dirty = true; });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.apply();
    });
  }

  /** The camera as /api/cameras lists it for this user (undefined: not listed). */
  update(camera) {
    if (!this.root) return;
    if (!camera || !camera.actions?.includes("control")) {
      this.root.hidden = true;
      this.form.replaceChildren();
      this.choicesKey = null;
      this.cameraId = null;
      return;
    }
    if (camera.id !== this.cameraId) {
      this.cameraId = camera.id;
      this.dirty = false;
      this.say("", "");
    }
    this.root.hidden = false;
    this.show(camera.settings || {});
  }

  /** A config_ack or settings message from the viewer WebSocket. */
  message(message) {
    if (!this.root || message.camera !== this.cameraId) return;
    if (message.type === "settings") {
      this.dirty = false;
      this.show(message.settings || {});
    } else if (message.type === "config_ack") {
      clearTimeout(this.ackTimer);
      const applied = message.applied || {};
      const rejected = message.rejected || {};
      const parts = [];
      if (Object.keys(applied).length) parts.push(`Applied: ${describe(applied)}.`);
      for (const [key, reason] of Object.entries(rejected)) {
        parts.push(`Rejected ${(LABELS[key] || key).toLowerCase()}: ${reason}.`);
      }
      const state = Object.keys(rejected).length
        ? (Object.keys(applied).length ? "partly" : "rejected") : "applied";
      this.say(parts.join(" ") || "The camera changed nothing.", state);
    }
  }

  say(text, state) {
    this.answer.textContent = text;
    this.answer.dataset.state = state;
    this.answer.hidden = !text;
  }

  /** Build the form for the camera's choices (once per set of choices) and fill in its
   * current settings, unless the user is editing them. */
  show(settings) {
    this.settings = settings;
    const choices = settings.choices || {};
    const key = JSON.stringify(choices);
    if (key !== this.choicesKey) {
      this.choicesKey = key;
      this.build(choices);
      this.dirty = false;
    }
    if (this.dirty) return;
    for (const name of KEYS) {
      const field = this.form.elements[name];
      if (!field || settings[name] == null) continue;
      if (field.type === "checkbox") field.checked = Boolean(settings[name]);
      else if (field.tagName === "SELECT") {
        const value = String(settings[name]);
        if (![...field.options].some((o) => o.value === value)) {
          field.prepend(new Option(`${value} (now)`, value));  // a size it cannot be set back to
        }
        field.value = value;
      } else field.value = String(settings[name]);
    }
  }

  build(choices) {
    const fields = [];
    if (Array.isArray(choices.framesize) && choices.framesize.length) {
      fields.push(element("label", {}, LABELS.framesize, " ", element(
        "select", { name: "framesize" }, ...choices.framesize.map((s) => new Option(s, s)))));
    }
    for (const name of ["quality", "fps"]) {
      const range = choices[name];
      if (range && Number.isInteger(range.min) && Number.isInteger(range.max)) {
        fields.push(element("label", {}, LABELS[name], " ", element("input", {
          name, type: "number", min: range.min, max: range.max, step: 1, required: true,
          inputmode: "numeric",
        })));
      }
    }
    for (const name of ["vflip", "hmirror"]) {
      if (Array.isArray(choices[name])) {
        fields.push(element("label", { class: "check" },
                            element("input", { name, type: "checkbox" }), " ", LABELS[name]));
      }
    }
    if (!fields.length) {
      this.form.replaceChildren(element(
        "p", { class: "hint" }, "This camera has not said which settings it takes."));
      return;
    }
    this.form.replaceChildren(...fields, element("button", { type: "submit" }, "Apply"));
  }

  /** What the form asks for that differs from the camera's current settings. */
  changes() {
    const out = {};
    for (const name of KEYS) {
      const field = this.form.elements[name];
      if (!field) continue;
      let value;
      if (field.type === "checkbox") value = field.checked;
      else if (field.type === "number") value = Number(field.value);
      else value = field.value;
      if (value !== this.settings[name]) out[name] = value;
    }
    return out;
  }

  async apply() {
    const id = this.cameraId;
    const changes = this.changes();
    if (!Object.keys(changes).length) {
      this.say("Nothing to change.", "");
      return;
    }
    this.say("Sending…", "pending");
    let response;
    try {
      response = await fetch(`api/cameras/${encodeURIComponent(id)}/config`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(changes), cache: "no-store",
      });
    } catch (e) {
      this.say(`Could not reach the server: ${e.message || e}`, "rejected");
      return;
    }
    if (response.status === 202) {
      this.dirty = false;
      this.say(`Sent ${describe(changes)}; waiting for the camera's answer…`, "pending");
      clearTimeout(this.ackTimer);
      this.ackTimer = setTimeout(() => this.say(
        "No answer from the camera (it may not take settings).", "rejected"), ACK_TIMEOUT_MS);
      return;
    }
    const text = (await response.text()).trim();
    if (response.status === 409) this.say("The camera is not connected.", "rejected");
    else if (response.status === 401 || response.status === 403) {
      this.say(`Not allowed: ${text}`, "rejected");
      this.refresh();
    } else this.say(`Refused by the server: ${text}`, "rejected");
  }
}
