// @ts-check
// The dashboard's recent events: snapshot thumbnails, where and when, and each event's clip on demand.
import { cameraTitle } from "./cameras.js";
import { badge, byId, el, timeElement } from "./dom.js";
import { duration, percent } from "./format.js";
import { onClose } from "./http.js";

/**
 * One of GET /api/events's events (EventOut), the parts shown here.
 * @typedef {object} StoredEvent
 * @property {string} id
 * @property {string} camera
 * @property {string} label
 * @property {number} score
 * @property {string[]} zones
 * @property {string} start_time
 * @property {string | null} end_time
 * @property {boolean} stationary
 * @property {string | null} snapshot_url
 * @property {string | null} clip_url
 * @property {boolean} clip_partial
 */
/**
 * An event's list item.
 * @typedef {object} EventItem
 * @property {HTMLLIElement} li
 * @property {HTMLElement} thumb
 * @property {HTMLElement} title
 * @property {HTMLElement} where
 * @property {HTMLElement} when
 * @property {HTMLElement} clip
 * @property {string} camera
 * @property {string} zones
 * @property {string | null} clipUrl
 * @property {HTMLVideoElement | null} video
 * @property {string | null} snapshotUrl
 * @property {HTMLImageElement | null} img
 */

/** @type {Map<string, EventItem>} */
const eventItems = new Map(); // event id -> list item state

// Logged out or the session lost (http.js): no snapshot keeps loading.
onClose(() => {
  for (const item of eventItems.values()) {
    if (item.img) item.img.removeAttribute("src");
  }
});

/** Cameras' display names arrived with a status: the events listed before say them too. */
export function showCameraTitles() {
  for (const item of eventItems.values()) showWhere(item);
}

/**
 * @param {string} id
 * @returns {EventItem}
 */
function createEvent(id) {
  const li = el("li", "event");
  li.dataset.event = id;
  const thumb = el("div", "thumb none", "no snapshot");
  const main = el("div", "event-main");
  const title = el("div", "event-title");
  const where = el("div", "event-meta");
  const when = el("div", "event-meta");
  const clip = el("div", "event-clip");
  main.append(title, where, when, clip);
  li.append(thumb, main);
  return {
    li, thumb, title, where, when, clip, camera: "", zones: "", clipUrl: null, video: null, snapshotUrl: null,
    img: null,
  };
}

/**
 * The event's footage in a <video controls>, opened on demand (a clip is built when first asked for).
 * @param {EventItem} item
 * @param {StoredEvent} e
 * @param {HTMLButtonElement} button
 */
function toggleClip(item, e, button) {
  if (item.video) {
    item.video.pause();
    item.video.remove();
    item.video = null;
    button.textContent = "Play clip";
    return;
  }
  if (!e.clip_url) return;
  const video = el("video", "clip");
  video.controls = true;
  video.preload = "auto";
  video.playsInline = true;
  video.muted = true;
  video.addEventListener("error", () => {
    button.textContent = "Clip unavailable";
    video.remove();
    item.video = null;
  });
  // A clip still being recorded grows: ask for the newest one each time it is opened.
  video.src = e.clip_partial ? `${e.clip_url}?v=${Date.now()}` : e.clip_url;
  item.clip.append(video);
  item.video = video;
  button.textContent = "Close clip";
  video.play().catch(() => {});
}

/**
 * @param {EventItem} item
 * @param {StoredEvent} e
 */
function updateClip(item, e) {
  if (e.clip_url === item.clipUrl && item.clip.firstChild) {
    const note = item.clip.querySelector(".clip-note");
    if (note instanceof HTMLElement) note.hidden = !e.clip_partial;
    return;
  }
  item.clipUrl = e.clip_url;
  if (item.video) item.video.pause();
  item.video = null;
  if (!e.clip_url) {
    item.clip.replaceChildren();
    return;
  }
  const button = el("button", "clip-button", "Play clip");
  button.type = "button";
  button.addEventListener("click", () => toggleClip(item, e, button));
  const note = el("span", "clip-note", "still recording");
  note.hidden = !e.clip_partial;
  item.clip.replaceChildren(button, note);
}

/**
 * @param {EventItem} item
 * @param {StoredEvent} e
 * @param {string} url  its snapshot_url
 */
function snapshotThumb(item, e, url) {
  const link = el("a", "thumb");
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener";
  link.title = "Open the full snapshot in a new tab";
  const img = el("img", "snapshot");
  img.alt = `Snapshot: ${e.label} on ${cameraTitle(e.camera)}`;
  img.decoding = "async";
  img.addEventListener("error", () => {
    if (!img.getAttribute("src")) return;
    link.classList.add("none", "broken");
    link.dataset.text = "snapshot unavailable";
  });
  img.addEventListener("load", () => link.classList.remove("none", "broken"));
  img.src = url;
  link.append(img);
  item.img = img;
  return link;
}

/**
 * Where an event happened, by the camera's display name (known once the status has arrived).
 * @param {EventItem} item
 */
function showWhere(item) {
  const text = `${cameraTitle(item.camera)}${item.zones}`;
  if (item.where.textContent !== text) item.where.textContent = text;
}

/**
 * @param {EventItem} item
 * @param {StoredEvent} e
 */
function updateEvent(item, e) {
  if (e.snapshot_url !== item.snapshotUrl) {
    item.snapshotUrl = e.snapshot_url;
    item.img = null;
    const thumb = e.snapshot_url ? snapshotThumb(item, e, e.snapshot_url) : el("div", "thumb none", "no snapshot");
    item.thumb.replaceWith(thumb);
    item.thumb = thumb;
  } else if (item.img && e.end_time === null && item.img.complete) {
    // Still going on: the best snapshot may have been replaced by a better one.
    item.img.src = `${e.snapshot_url}?v=${Date.now()}`;
  }

  const title = [el("strong", null, e.label), el("span", "score", percent(e.score))];
  if (e.end_time === null) title.push(badge("ongoing", "warn"));
  if (e.stationary) title.push(badge("parked", "info"));
  item.title.replaceChildren(...title);

  item.camera = e.camera;
  item.zones = Array.isArray(e.zones) && e.zones.length ? ` · zones: ${e.zones.join(", ")}` : "";
  showWhere(item);
  /** @type {Node[]} */
  const when = [document.createTextNode(e.end_time === null ? "since " : ""), timeElement(e.start_time)];
  if (e.end_time !== null) {
    const seconds = (new Date(e.end_time).getTime() - new Date(e.start_time).getTime()) / 1000;
    when.push(document.createTextNode(" – "), timeElement(e.end_time));
    if (Number.isFinite(seconds)) when.push(document.createTextNode(` (${duration(seconds)})`));
  }
  item.when.replaceChildren(...when);
  updateClip(item, e);
}

/**
 * The list in the answer's order (newest first), items kept across polls so snapshots and open clips stay.
 * @param {StoredEvent[]} events
 * @param {string} label  the class filter they were asked for ("" = all)
 */
export function renderEvents(events, label) {
  const list = byId("events");
  for (const child of Array.from(list.children)) {
    if (!(child instanceof HTMLElement) || !child.dataset.event) child.remove();
  }
  /** @type {Set<string>} */
  const seen = new Set();
  events.forEach((e, index) => {
    let item = eventItems.get(e.id);
    if (!item) {
      item = createEvent(e.id);
      eventItems.set(e.id, item);
    }
    updateEvent(item, e);
    seen.add(e.id);
    const at = list.children[index];
    if (at !== item.li) list.insertBefore(item.li, at || null);
  });
  for (const [id, item] of eventItems) {
    if (!seen.has(id)) {
      item.li.remove();
      eventItems.delete(id);
    }
  }
  if (events.length === 0) {
    list.append(el("li", "empty", label ? `No ${label} events yet.` : "No events yet."));
  }
}
