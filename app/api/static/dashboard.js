// @ts-check
// edgewatch dashboard: plain ES modules, no framework, no build step (tsc only checks them). This entry
// module polls the API and draws the header, the system panel, the events filter and the alerts, and runs
// the mode switch and the logout; cameras.js, events.js and tokens.js draw their parts; http.js talks to
// the API. Everything that comes from the server (camera names, labels, zones, errors) is put in the page
// with textContent / attributes, never parsed as HTML. Polls never overlap: each waits for the previous one.
import { cameraTitle, renderCameras } from "./cameras.js";
import { badge, byId, el, HIDDEN_RECHECK_MS, timeElement } from "./dom.js";
import { renderEvents, showCameraTitles } from "./events.js";
import { duration, fixed, localTime, megabytes, percent } from "./format.js";
import { api, close, isClosed, leaving, messageOf, request } from "./http.js";
import { setUpTokens } from "./tokens.js";

/** @import { Camera } from "./cameras.js" */
/** @import { StoredEvent } from "./events.js" */

/**
 * GET /api/status, the parts shown here (app/api/models.py StatusOut).
 * @typedef {object} Status
 * @property {string} node
 * @property {string} version
 * @property {number} uptime
 * @property {string} mode
 * @property {Camera[]} cameras
 * @property {{backend: string, device: string | null, model: string, inference_ms: number, degraded: boolean,
 *   note: string | null, errors: number}} detector
 * @property {{connected: boolean, outbox: number, error: string | null} | null} mqtt  null: no broker configured
 * @property {{used_mb: number, free_mb: number}} storage
 * @property {string[]} objects_tracked
 */
/**
 * One of GET /api/alerts's alerts (AlertOut), the parts shown here.
 * @typedef {object} Alert
 * @property {string} id
 * @property {string} rule
 * @property {string} camera
 * @property {string} label
 * @property {number} score
 * @property {string} fired_at
 * @property {string} severity
 * @property {string | null} delivered_at
 */

const STATUS_EVERY_MS = 2000;
const LISTS_EVERY_MS = 5000;
const EVENTS_LIMIT = 20;
const ALERTS_LIMIT = 10;

const modeSelect = byId("mode", HTMLSelectElement);
const labelSelect = byId("event-label", HTMLSelectElement);

/** @type {string | null} */
let currentMode = null;
let modeBusy = false;
/** @type {boolean | null} */
let mqttConfigured = null; // unknown until the first status
/** @type {Alert[] | null} */
let lastAlerts = null;
let eventLabel = ""; // the events list's class filter; "" = all classes
/** @type {string | null} */
let trackedKey = null; // the tracked classes the filter's options were made from
/** @type {Map<string, string>} */
const problems = new Map(); // poll name -> message

// ---- the status line ----------------------------------------------------------------------------------------

function showProblems() {
  const line = byId("statusline");
  const first = problems.values().next();
  const text = first.done ? "Live" : `Connection problem: ${first.value} — retrying`;
  if (line.textContent !== text) line.textContent = text; // unchanged text: no screen-reader chatter
  line.classList.toggle("error", !first.done);
  line.classList.remove("pending");
}

/**
 * @param {string} name
 * @param {() => Promise<void>} work
 * @param {number} everyMs
 */
function poll(name, work, everyMs) {
  const run = async () => {
    if (isClosed()) return;
    if (document.hidden) {
      setTimeout(run, HIDDEN_RECHECK_MS); // nobody is looking: do not load the box
      return;
    }
    try {
      await work();
      problems.delete(name);
    } catch (error) {
      if (leaving(error)) return;
      problems.set(name, `${name}: ${messageOf(error)}`);
    }
    showProblems();
    if (!isClosed()) setTimeout(run, everyMs);
  };
  run();
}

// ---- status: header, detector, mqtt, storage (the cameras: cameras.js) ------------------------------------

/**
 * @param {HTMLElement} section
 * @param {string} field
 */
function fieldOf(section, field) {
  const node = section.querySelector(`[data-field="${field}"]`);
  if (!(node instanceof HTMLElement)) throw new Error(`#${section.id} has no ${field} field`);
  return node;
}

/**
 * @param {HTMLElement} section
 * @param {string} field
 * @param {string} value
 */
function setField(section, field, value) {
  const node = fieldOf(section, field);
  if (node.children.length > 0 || node.textContent !== value) node.textContent = value;
}

/**
 * @param {HTMLElement} section
 * @param {string} field
 * @param {...Node} nodes
 */
function setFieldNodes(section, field, ...nodes) {
  fieldOf(section, field).replaceChildren(...nodes);
}

/** @param {Status} s */
function renderStatus(s) {
  const node = byId("node");
  if (node.textContent !== s.node) {
    node.textContent = s.node;
    document.title = `${s.node} — edgewatch`;
  }
  byId("version").textContent = `v${s.version}`;
  byId("uptime").textContent = `up ${duration(s.uptime)}`;

  currentMode = s.mode;
  if (!modeBusy) {
    modeSelect.value = s.mode;
    modeSelect.disabled = false;
  }

  const d = s.detector;
  const detector = byId("detector");
  setField(detector, "backend", d.backend || "—");
  setField(detector, "device", d.device || "—");
  setField(detector, "model", d.model || "—");
  setField(detector, "inference", `${fixed(d.inference_ms, 1)} ms`);
  setField(detector, "errors", String(d.errors ?? "—"));
  const banner = byId("degraded");
  if (d.degraded) {
    const text = `Detector degraded: ${d.note || "not running the configured detector"}`;
    if (banner.textContent !== text) banner.textContent = text;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }

  const mqtt = byId("mqtt");
  const hadBroker = mqttConfigured;
  mqttConfigured = s.mqtt !== null;
  if (hadBroker !== mqttConfigured && lastAlerts !== null) renderAlerts(lastAlerts); // their delivery wording
  if (s.mqtt === null) {
    setFieldNodes(mqtt, "state", el("span", "hint", "no broker configured"));
    setField(mqtt, "outbox", "—");
  } else {
    const nodes = [badge(s.mqtt.connected ? "connected" : "disconnected", s.mqtt.connected ? "ok" : "bad")];
    if (!s.mqtt.connected && s.mqtt.error) nodes.push(el("div", "camera-error", s.mqtt.error));
    setFieldNodes(mqtt, "state", ...nodes);
    setField(mqtt, "outbox", s.mqtt.outbox === 0 ? "empty" : `${s.mqtt.outbox} waiting`);
  }

  const storage = byId("storage");
  setField(storage, "used", megabytes(s.storage.used_mb));
  setField(storage, "free", megabytes(s.storage.free_mb));

  renderTrackedClasses(s.objects_tracked);
  if (renderCameras(s.cameras)) showCameraTitles(); // events listed before their camera's title was known
}

/**
 * @param {string} value
 * @param {string} text
 */
function labelOption(value, text) {
  const option = el("option", null, text);
  option.value = value;
  return option;
}

/**
 * The events filter offers every tracked class; rebuilt only when that list changes.
 * @param {unknown} labels
 */
function renderTrackedClasses(labels) {
  if (!Array.isArray(labels)) return;
  const key = JSON.stringify(labels);
  if (key === trackedKey) return;
  trackedKey = key;
  const options = [labelOption("", "All classes"), ...labels.map((label) => labelOption(label, label))];
  // No longer tracked, but its stored events may still be what the user is looking at.
  if (eventLabel && !labels.includes(eventLabel)) options.push(labelOption(eventLabel, eventLabel));
  labelSelect.replaceChildren(...options);
  labelSelect.value = eventLabel;
  labelSelect.disabled = false;
}

async function refreshStatus() {
  renderStatus(/** @type {Status} */ (await api("/api/status")));
}

// ---- events -------------------------------------------------------------------------------------------------

/** @param {string} label */
function eventsPath(label) {
  const filter = label ? `&label=${encodeURIComponent(label)}` : "";
  return `/api/events?limit=${EVENTS_LIMIT}${filter}`;
}

/** @param {string} label */
async function fetchEvents(label) {
  return /** @type {StoredEvent[]} */ (await api(eventsPath(label)));
}

// A response for a filter the user has since changed is dropped: the newer request shows its own.
async function refreshEvents() {
  const label = eventLabel;
  const events = await fetchEvents(label);
  if (label === eventLabel) renderEvents(events, label);
}

labelSelect.addEventListener("change", async () => {
  eventLabel = labelSelect.value;
  try {
    await refreshEvents();
  } catch (error) {
    if (leaving(error)) return;
    problems.set("events", `events: ${messageOf(error)}`); // the next poll clears it
    showProblems();
  }
});

// ---- alerts -------------------------------------------------------------------------------------------------

/** @param {Alert} a */
function alertItem(a) {
  const li = el("li", "alert");
  li.dataset.alert = a.id;
  const title = el("div", "alert-title");
  title.append(el("strong", null, a.rule));
  if (a.delivered_at) {
    const delivered = badge("delivered", "ok");
    delivered.title = `acknowledged by the broker at ${localTime(a.delivered_at)}`;
    title.append(delivered);
  } else if (mqttConfigured === false) {
    title.append(badge("not sent: no broker", ""));
  } else {
    title.append(badge("waiting for broker", "warn"));
  }
  if (a.severity && a.severity !== "alert") title.append(badge(a.severity, "info"));
  const what = el("div", "alert-meta", `${a.label} on ${cameraTitle(a.camera)} · ${percent(a.score)}`);
  const when = el("div", "alert-meta");
  when.append(timeElement(a.fired_at));
  li.append(title, what, when);
  return li;
}

/** @param {Alert[]} alerts */
function renderAlerts(alerts) {
  lastAlerts = alerts;
  const list = byId("alerts");
  if (alerts.length === 0) {
    list.replaceChildren(el("li", "empty", "No alerts yet."));
    return;
  }
  list.replaceChildren(...alerts.map(alertItem));
}

async function refreshLists() {
  const label = eventLabel;
  const [events, alerts] = await Promise.all([fetchEvents(label), api(`/api/alerts?limit=${ALERTS_LIMIT}`)]);
  if (label === eventLabel) renderEvents(events, label);
  renderAlerts(/** @type {Alert[]} */ (alerts));
}

// ---- mode switch --------------------------------------------------------------------------------------------

modeSelect.addEventListener("change", async () => {
  const wanted = modeSelect.value;
  const previous = currentMode;
  const problem = byId("mode-error");
  modeBusy = true;
  modeSelect.disabled = true;
  try {
    const out = /** @type {{mode: string}} */ (await api("/api/mode", { method: "PUT", body: { mode: wanted } }));
    currentMode = out.mode;
    modeSelect.value = out.mode;
    problem.hidden = true;
  } catch (error) {
    if (leaving(error)) return;
    if (previous !== null) modeSelect.value = previous;
    problem.textContent = `Could not switch to ${wanted}: ${messageOf(error)}`;
    problem.hidden = false;
  } finally {
    modeBusy = false;
    modeSelect.disabled = false;
  }
});

// ---- log out ------------------------------------------------------------------------------------------------

const logout = byId("logout", HTMLButtonElement);
logout.addEventListener("click", async () => {
  logout.disabled = true;
  close(); // no poll may answer 401 after the session is gone
  try {
    await request("/api/logout", { method: "POST" });
  } catch (_) {
    // the cookie is dropped with the session server-side; the login page is where we go anyway
  }
  location.replace("/login");
});

// ---- start --------------------------------------------------------------------------------------------------

setUpTokens();
poll("status", refreshStatus, STATUS_EVERY_MS);
poll("events", refreshLists, LISTS_EVERY_MS);
