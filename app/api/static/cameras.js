// @ts-check
// The dashboard's camera cards: state, counts and rates from /api/status, and each camera's latest
// frame, loaded one request at a time per camera (the next starts only once the previous ended).
import { badge, byId, el, HIDDEN_RECHECK_MS } from "./dom.js";
import { duration, fixed } from "./format.js";
import { isClosed, onClose } from "./http.js";

/**
 * One of GET /api/status's cameras (app/api/models.py CameraOut), the parts shown here.
 * @typedef {object} Camera
 * @property {string} name
 * @property {string} title
 * @property {boolean} online
 * @property {boolean} enabled
 * @property {number} fps_in
 * @property {number} fps_detect
 * @property {number} detect_fps_target
 * @property {number | null} lag_s
 * @property {boolean} behind
 * @property {number} dropped
 * @property {number | null} last_frame_age_s
 * @property {number} reconnects
 * @property {string | null} error
 * @property {Record<string, number>} objects
 */
/**
 * A camera's card and its latest.jpg loop.
 * @typedef {object} CameraCard
 * @property {string} name
 * @property {string} title
 * @property {HTMLElement} root
 * @property {HTMLImageElement} img
 * @property {HTMLElement} state
 * @property {HTMLElement} disabled
 * @property {HTMLElement} error
 * @property {HTMLElement} objects
 * @property {HTMLElement} stats
 * @property {boolean} online
 * @property {boolean} removed
 * @property {number} timer
 * @property {number} watchdog
 * @property {number} started
 */

const FRAME_EVERY_MS = 1000;
const FRAME_RETRY_MS = 2000;
const FRAME_OFFLINE_MS = 5000;
const FRAME_STALL_MS = 15000;

/** @type {Map<string, CameraCard>} */
const cameras = new Map(); // name -> camera card state

// Logged out or the session lost (http.js): no frame loop may go on.
onClose(() => {
  for (const cam of cameras.values()) {
    clearTimeout(cam.timer);
    clearTimeout(cam.watchdog);
    cam.img.removeAttribute("src");
  }
});

/**
 * A camera's display name as the status gave it (the id until the first status arrives).
 * @param {string} name
 */
export function cameraTitle(name) {
  const cam = cameras.get(name);
  return cam ? cam.title : name;
}

/**
 * @param {string} name
 * @param {string} display
 * @returns {CameraCard}
 */
function createCamera(name, display) {
  const root = el("article", "card camera no-frame");
  root.dataset.camera = name;
  root.dataset.state = "unknown";

  const frame = el("div", "frame");
  const img = el("img", "latest");
  img.alt = `Latest frame from camera ${display}`;
  img.decoding = "async";
  const placeholder = el("p", "placeholder", "no frame yet");
  frame.append(img, placeholder);

  const body = el("div", "camera-body");
  const title = el("div", "camera-title");
  const state = badge("…");
  const disabled = badge("disabled");
  disabled.hidden = true;
  const heading = el("h3", null, display);
  if (display !== name) heading.title = name; // the id, as config, topics and the API spell it
  title.append(heading, disabled, state);
  const error = el("p", "camera-error");
  error.hidden = true;
  const objects = el("p", "objects");
  objects.hidden = true;
  const stats = el("p", "stats");
  body.append(title, error, objects, stats);
  root.append(frame, body);

  /** @type {CameraCard} */
  const cam = {
    name, title: display, root, img, state, disabled, error, objects, stats, online: false, removed: false, timer: 0,
    watchdog: 0, started: 0,
  };
  img.addEventListener("load", () => frameDone(cam, true));
  img.addEventListener("error", () => frameDone(cam, false));
  return cam;
}

/**
 * One latest.jpg request per camera at a time: the next starts only once the previous ended.
 * @param {CameraCard} cam
 */
function loadFrame(cam) {
  cam.timer = 0;
  if (isClosed() || cam.removed) return;
  if (document.hidden) {
    cam.timer = setTimeout(() => loadFrame(cam), HIDDEN_RECHECK_MS);
    return;
  }
  cam.started = performance.now();
  clearTimeout(cam.watchdog);
  cam.watchdog = setTimeout(() => loadFrame(cam), FRAME_STALL_MS); // a request that never ends
  cam.img.src = `/api/cameras/${encodeURIComponent(cam.name)}/latest.jpg?t=${Date.now()}`;
}

/**
 * @param {CameraCard} cam
 * @param {boolean} ok
 */
function frameDone(cam, ok) {
  clearTimeout(cam.watchdog);
  if (isClosed() || cam.removed || !cam.img.getAttribute("src")) return;
  cam.root.classList.toggle("no-frame", !ok);
  const period = !ok ? FRAME_RETRY_MS : cam.online ? FRAME_EVERY_MS : FRAME_OFFLINE_MS;
  clearTimeout(cam.timer);
  cam.timer = setTimeout(() => loadFrame(cam), Math.max(100, period - (performance.now() - cam.started)));
}

/**
 * @param {CameraCard} cam
 * @param {Camera} c
 */
function updateCamera(cam, c) {
  cam.online = c.online;
  cam.root.dataset.state = c.online ? "online" : "offline";
  cam.root.dataset.enabled = String(c.enabled);
  cam.root.classList.toggle("offline", !c.online);
  cam.state.textContent = c.online ? "online" : "offline";
  cam.state.className = `badge ${c.online ? "ok" : "bad"}`;
  cam.disabled.hidden = c.enabled !== false;
  const error = !c.online && c.error ? c.error : "";
  cam.error.textContent = error;
  cam.error.hidden = !error;
  renderCounts(cam, c);
  let stats = `${fixed(c.fps_in, 1)} fps in · ${fixed(c.fps_detect, 1)} detect fps · ${c.dropped} dropped`;
  // The detector cannot keep up: say how far behind this camera is, not just a lower number.
  if (c.online && c.behind) {
    stats += ` · behind: ${fixed(c.fps_detect, 1)} of ${fixed(c.detect_fps_target, 0)} fps`;
    if (typeof c.lag_s === "number") stats += `, results ${fixed(c.lag_s, 1)} s late`;
  }
  cam.stats.classList.toggle("behind", Boolean(c.online && c.behind));
  if (!c.online && typeof c.last_frame_age_s === "number") stats += ` · last frame ${duration(c.last_frame_age_s)} ago`;
  if (c.reconnects) stats += ` · ${c.reconnects} reconnects`;
  cam.stats.textContent = stats;
}

/**
 * "2 person · 1 car": confirmed objects in view now, most first.
 * @param {CameraCard} cam
 * @param {Camera} c
 */
function renderCounts(cam, c) {
  const counts = Object.entries(c.objects && typeof c.objects === "object" ? c.objects : {})
    .filter(([, n]) => typeof n === "number" && n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const watching = c.online && c.enabled !== false;
  const text = counts.length ? counts.map(([label, n]) => `${n} ${label}`).join(" · ") : "nothing in view";
  cam.objects.hidden = !counts.length && !watching;
  cam.objects.classList.toggle("none", !counts.length);
  if (cam.objects.textContent !== text) cam.objects.textContent = text;
}

/**
 * The camera cards in the status's order: new ones start their frame loop, gone ones stop it.
 * @param {Camera[]} list
 * @returns {boolean}  true when a camera was added (its display name is now known)
 */
export function renderCameras(list) {
  let added = false;
  const grid = byId("cameras");
  /** @type {Set<string>} */
  const seen = new Set();
  list.forEach((c, index) => {
    let cam = cameras.get(c.name);
    if (!cam) {
      cam = createCamera(c.name, c.title || c.name);
      cameras.set(c.name, cam);
      added = true;
      updateCamera(cam, c);
      loadFrame(cam);
    } else {
      updateCamera(cam, c);
    }
    seen.add(c.name);
    const at = grid.children[index];
    if (at !== cam.root) grid.insertBefore(cam.root, at || null);
  });
  for (const [name, cam] of cameras) {
    if (!seen.has(name)) {
      cam.removed = true;
      clearTimeout(cam.timer);
      clearTimeout(cam.watchdog);
      cam.root.remove();
      cameras.delete(name);
    }
  }
  for (const child of Array.from(grid.children)) {
    if (!(child instanceof HTMLElement) || !child.dataset.camera) child.remove();
  }
  if (list.length === 0) grid.append(el("p", "empty", "No cameras configured."));
  return added;
}
