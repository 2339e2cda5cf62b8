// edgewatch dashboard. Plain ES2020, no framework, no build step.
// Everything that comes from the server (camera names, labels, zones, errors) is put in the page with
// textContent / attributes, never parsed as HTML. Polls never overlap: each waits for the previous one.
"use strict";

(() => {
  const STATUS_EVERY_MS = 2000;
  const LISTS_EVERY_MS = 5000;
  const FRAME_EVERY_MS = 1000;
  const FRAME_RETRY_MS = 2000;
  const FRAME_OFFLINE_MS = 5000;
  const FRAME_STALL_MS = 15000;
  const REQUEST_TIMEOUT_MS = 10000;
  const HIDDEN_RECHECK_MS = 1000;
  const EVENTS_LIMIT = 20;
  const ALERTS_LIMIT = 10;

  const $ = (id) => document.getElementById(id);
  const modeSelect = $("mode");
  const labelSelect = $("event-label");

  let stopped = false;
  let currentMode = null;
  let modeBusy = false;
  let mqttConfigured = null; // unknown until the first status
  let lastAlerts = null;
  let eventLabel = ""; // the events list's class filter; "" = all classes
  let trackedKey = null; // the tracked classes the filter's options were made from
  const controllers = new Set();
  const cameras = new Map(); // name -> camera card state
  const eventItems = new Map(); // event id -> list item state
  const problems = new Map(); // poll name -> message

  // ---- small helpers ------------------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function badge(text, kind) {
    return el("span", kind ? `badge ${kind}` : "badge", text);
  }

  function fixed(value, digits) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
  }

  function percent(score) {
    return typeof score === "number" && Number.isFinite(score) ? `${Math.round(score * 100)}%` : "—";
  }

  function megabytes(mb) {
    if (typeof mb !== "number" || !Number.isFinite(mb)) return "—";
    if (mb >= 1024 * 1024) return `${(mb / (1024 * 1024)).toFixed(1)} TB`;
    if (mb >= 1024) return `${(mb / 1024).toFixed(1)} GB`;
    return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
  }

  function duration(seconds) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function localTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const today = date.toDateString() === new Date().toDateString();
    return today ? date.toLocaleTimeString() : date.toLocaleString();
  }

  function timeElement(iso) {
    const node = el("time", null, localTime(iso));
    node.dateTime = iso;
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime())) node.title = date.toLocaleString();
    return node;
  }

  // FastAPI's `detail`: a string, or a list of {loc, msg, type} for validation errors.
  function describe(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((item) => {
          if (!item || typeof item !== "object") return String(item);
          const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
          const msg = typeof item.msg === "string" ? item.msg : "invalid";
          return loc ? `${loc}: ${msg}` : msg;
        })
        .join("; ");
    }
    return "";
  }

  class Unauthorized extends Error {}

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail ? `${detail} (HTTP ${status})` : `HTTP ${status}`);
      this.status = status;
      this.detail = detail;
    }
  }

  function messageOf(error) {
    if (error instanceof HttpError) return error.message;
    if (error && error.name === "AbortError") return "no answer in time";
    return "cannot reach the appliance";
  }

  // The session is gone (logged out elsewhere, expired, password changed): back to the login page.
  function leave() {
    if (stopped) return;
    stop();
    location.replace("/login");
  }

  function stop() {
    stopped = true;
    for (const controller of controllers) controller.abort();
    controllers.clear();
    for (const cam of cameras.values()) {
      clearTimeout(cam.timer);
      clearTimeout(cam.watchdog);
      cam.img.removeAttribute("src");
    }
    for (const item of eventItems.values()) {
      if (item.img) item.img.removeAttribute("src");
    }
  }

  async function api(path, { method = "GET", body } = {}) {
    if (stopped) throw new Unauthorized("stopped");
    const controller = new AbortController();
    controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller.signal,
      cache: "no-store",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(path, init);
      if (response.status === 401) {
        leave();
        throw new Unauthorized("login required");
      }
      if (!response.ok) {
        let detail = "";
        try {
          detail = describe((await response.json()).detail);
        } catch (_) {
          // not JSON: the status says enough
        }
        throw new HttpError(response.status, detail);
      }
      return response.status === 204 ? null : await response.json();
    } finally {
      clearTimeout(timer);
      controllers.delete(controller);
    }
  }

  // ---- the status line ----------------------------------------------------------------------------------------

  function showProblems() {
    const line = $("statusline");
    const first = problems.values().next();
    const text = first.done ? "Live" : `Connection problem: ${first.value} — retrying`;
    if (line.textContent !== text) line.textContent = text; // unchanged text: no screen-reader chatter
    line.classList.toggle("error", !first.done);
    line.classList.remove("pending");
  }

  function poll(name, work, everyMs) {
    const run = async () => {
      if (stopped) return;
      if (document.hidden) {
        setTimeout(run, HIDDEN_RECHECK_MS); // nobody is looking: do not load the box
        return;
      }
      try {
        await work();
        problems.delete(name);
      } catch (error) {
        if (stopped || error instanceof Unauthorized) return;
        problems.set(name, `${name}: ${messageOf(error)}`);
      }
      showProblems();
      if (!stopped) setTimeout(run, everyMs);
    };
    run();
  }

  // ---- status: header, detector, mqtt, storage, cameras -------------------------------------------------------

  function setField(section, field, value) {
    const node = section.querySelector(`[data-field="${field}"]`);
    if (node.children.length > 0 || node.textContent !== value) node.textContent = value;
  }

  function setFieldNodes(section, field, ...nodes) {
    section.querySelector(`[data-field="${field}"]`).replaceChildren(...nodes);
  }

  function renderStatus(s) {
    if ($("node").textContent !== s.node) {
      $("node").textContent = s.node;
      document.title = `${s.node} — edgewatch`;
    }
    $("version").textContent = `v${s.version}`;
    $("uptime").textContent = `up ${duration(s.uptime)}`;

    currentMode = s.mode;
    if (!modeBusy) {
      modeSelect.value = s.mode;
      modeSelect.disabled = false;
    }

    const d = s.detector;
    const detector = $("detector");
    setField(detector, "backend", d.backend || "—");
    setField(detector, "device", d.device || "—");
    setField(detector, "model", d.model || "—");
    setField(detector, "inference", `${fixed(d.inference_ms, 1)} ms`);
    setField(detector, "errors", String(d.errors ?? "—"));
    const banner = $("degraded");
    if (d.degraded) {
      const text = `Detector degraded: ${d.note || "not running the configured detector"}`;
      if (banner.textContent !== text) banner.textContent = text;
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }

    const mqtt = $("mqtt");
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

    const storage = $("storage");
    setField(storage, "used", megabytes(s.storage.used_mb));
    setField(storage, "free", megabytes(s.storage.free_mb));

    renderTrackedClasses(s.objects_tracked);
    renderCameras(s.cameras);
  }

  function labelOption(value, text) {
    const option = el("option", null, text);
    option.value = value;
    return option;
  }

  // The events filter offers every tracked class; rebuilt only when that list changes.
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

  // A camera's display name as the status gave it (the id until the first status arrives).
  function cameraTitle(name) {
    const cam = cameras.get(name);
    return cam ? cam.title : name;
  }

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

    const cam = {
      name, title: display, root, img, state, disabled, error, objects, stats, online: false, timer: 0, watchdog: 0, started: 0,
    };
    img.addEventListener("load", () => frameDone(cam, true));
    img.addEventListener("error", () => frameDone(cam, false));
    return cam;
  }

  // One latest.jpg request per camera at a time: the next starts only once the previous ended.
  function loadFrame(cam) {
    cam.timer = 0;
    if (stopped || cam.removed) return;
    if (document.hidden) {
      cam.timer = setTimeout(() => loadFrame(cam), HIDDEN_RECHECK_MS);
      return;
    }
    cam.started = performance.now();
    clearTimeout(cam.watchdog);
    cam.watchdog = setTimeout(() => loadFrame(cam), FRAME_STALL_MS); // a request that never ends
    cam.img.src = `/api/cameras/${encodeURIComponent(cam.name)}/latest.jpg?t=${Date.now()}`;
  }

  function frameDone(cam, ok) {
    clearTimeout(cam.watchdog);
    if (stopped || cam.removed || !cam.img.getAttribute("src")) return;
    cam.root.classList.toggle("no-frame", !ok);
    const period = !ok ? FRAME_RETRY_MS : cam.online ? FRAME_EVERY_MS : FRAME_OFFLINE_MS;
    clearTimeout(cam.timer);
    cam.timer = setTimeout(() => loadFrame(cam), Math.max(100, period - (performance.now() - cam.started)));
  }

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

  // "2 person · 1 car": confirmed objects in view now, most first.
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

  function renderCameras(list) {
    const grid = $("cameras");
    const seen = new Set();
    list.forEach((c, index) => {
      let cam = cameras.get(c.name);
      if (!cam) {
        cam = createCamera(c.name, c.title || c.name);
        cameras.set(c.name, cam);
        for (const item of eventItems.values()) showWhere(item); // listed before its title was known
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
      if (!child.dataset.camera) child.remove();
    }
    if (list.length === 0) grid.append(el("p", "empty", "No cameras configured."));
  }

  async function refreshStatus() {
    renderStatus(await api("/api/status"));
  }

  // ---- events -------------------------------------------------------------------------------------------------

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
      li, thumb, title, where, when, clip, camera: "", zones: "", clipUrl: null, video: null, snapshotUrl: null, img: null,
    };
  }

  // The event's footage in a <video controls>, opened on demand (a clip is built when first asked for).
  function toggleClip(item, e, button) {
    if (item.video) {
      item.video.pause();
      item.video.remove();
      item.video = null;
      button.textContent = "Play clip";
      return;
    }
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

  function updateClip(item, e) {
    if (e.clip_url === item.clipUrl && item.clip.firstChild) {
      const note = item.clip.querySelector(".clip-note");
      if (note) note.hidden = !e.clip_partial;
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

  function snapshotThumb(item, e) {
    const link = el("a", "thumb");
    link.href = e.snapshot_url;
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
    img.src = e.snapshot_url;
    link.append(img);
    item.img = img;
    return link;
  }

  // Where an event happened, by the camera's display name (known once the status has arrived).
  function showWhere(item) {
    const text = `${cameraTitle(item.camera)}${item.zones}`;
    if (item.where.textContent !== text) item.where.textContent = text;
  }

  function updateEvent(item, e) {
    if (e.snapshot_url !== item.snapshotUrl) {
      item.snapshotUrl = e.snapshot_url;
      item.img = null;
      const thumb = e.snapshot_url ? snapshotThumb(item, e) : el("div", "thumb none", "no snapshot");
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
    const when = [document.createTextNode(e.end_time === null ? "since " : ""), timeElement(e.start_time)];
    if (e.end_time !== null) {
      const seconds = (new Date(e.end_time).getTime() - new Date(e.start_time).getTime()) / 1000;
      when.push(document.createTextNode(" – "), timeElement(e.end_time));
      if (Number.isFinite(seconds)) when.push(document.createTextNode(` (${duration(seconds)})`));
    }
    item.when.replaceChildren(...when);
    updateClip(item, e);
  }

  function renderEvents(events) {
    const list = $("events");
    for (const child of Array.from(list.children)) {
      if (!child.dataset.event) child.remove();
    }
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
      list.append(el("li", "empty", eventLabel ? `No ${eventLabel} events yet.` : "No events yet."));
    }
  }

  function eventsPath(label) {
    const filter = label ? `&label=${encodeURIComponent(label)}` : "";
    return `/api/events?limit=${EVENTS_LIMIT}${filter}`;
  }

  // A response for a filter the user has since changed is dropped: the newer request shows its own.
  async function refreshEvents() {
    const label = eventLabel;
    const events = await api(eventsPath(label));
    if (label === eventLabel) renderEvents(events);
  }

  labelSelect.addEventListener("change", async () => {
    eventLabel = labelSelect.value;
    try {
      await refreshEvents();
    } catch (error) {
      if (stopped || error instanceof Unauthorized) return;
      problems.set("events", `events: ${messageOf(error)}`); // the next poll clears it
      showProblems();
    }
  });

  // ---- alerts -------------------------------------------------------------------------------------------------

  function renderAlerts(alerts) {
    lastAlerts = alerts;
    const list = $("alerts");
    if (alerts.length === 0) {
      list.replaceChildren(el("li", "empty", "No alerts yet."));
      return;
    }
    list.replaceChildren(
      ...alerts.map((a) => {
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
      })
    );
  }

  async function refreshLists() {
    const label = eventLabel;
    const [events, alerts] = await Promise.all([api(eventsPath(label)), api(`/api/alerts?limit=${ALERTS_LIMIT}`)]);
    if (label === eventLabel) renderEvents(events);
    renderAlerts(alerts);
  }

  // ---- mode switch --------------------------------------------------------------------------------------------

  modeSelect.addEventListener("change", async () => {
    const wanted = modeSelect.value;
    const previous = currentMode;
    const problem = $("mode-error");
    modeBusy = true;
    modeSelect.disabled = true;
    try {
      const out = await api("/api/mode", { method: "PUT", body: { mode: wanted } });
      currentMode = out.mode;
      modeSelect.value = out.mode;
      problem.hidden = true;
    } catch (error) {
      if (stopped || error instanceof Unauthorized) return;
      if (previous !== null) modeSelect.value = previous;
      problem.textContent = `Could not switch to ${wanted}: ${messageOf(error)}`;
      problem.hidden = false;
    } finally {
      modeBusy = false;
      modeSelect.disabled = false;
    }
  });

  // ---- log out ------------------------------------------------------------------------------------------------

  $("logout").addEventListener("click", async () => {
    $("logout").disabled = true;
    stop(); // no poll may answer 401 after the session is gone
    try {
      await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
    } catch (_) {
      // the cookie is dropped with the session server-side; the login page is where we go anyway
    }
    location.replace("/login");
  });

  // ---- API tokens ---------------------------------------------------------------------------------------------

  const tokenError = $("token-error");

  function renderTokens(tokens) {
    const list = $("tokens");
    if (tokens.length === 0) {
      list.replaceChildren(el("li", "empty", "No tokens yet."));
      return;
    }
    list.replaceChildren(
      ...tokens.map((t) => {
        const li = el("li", "token");
        li.dataset.token = t.id;
        const info = el("div", "token-info");
        const used = t.last_used_at ? `last used ${localTime(t.last_used_at)}` : "never used";
        info.append(el("strong", null, t.name), el("span", "meta", `created ${localTime(t.created_at)} · ${used}`));
        const revoke = el("button", "danger", "Revoke");
        revoke.type = "button";
        revoke.setAttribute("aria-label", `Revoke the token ${t.name}`);
        let armed = 0;
        revoke.addEventListener("click", async () => {
          if (!armed) {
            // Two clicks: a revoked token breaks whatever uses it.
            revoke.textContent = "Click again to revoke";
            revoke.classList.add("confirm");
            armed = setTimeout(() => {
              armed = 0;
              revoke.textContent = "Revoke";
              revoke.classList.remove("confirm");
            }, 4000);
            return;
          }
          clearTimeout(armed);
          revoke.disabled = true;
          try {
            await api(`/api/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
            tokenError.textContent = "";
          } catch (error) {
            if (stopped || error instanceof Unauthorized) return;
            tokenError.textContent = `Could not revoke ${t.name}: ${messageOf(error)}`;
          }
          await loadTokens();
        });
        li.append(info, revoke);
        return li;
      })
    );
  }

  async function loadTokens() {
    try {
      renderTokens(await api("/api/tokens"));
    } catch (error) {
      if (stopped || error instanceof Unauthorized) return;
      tokenError.textContent = `Could not list the tokens: ${messageOf(error)}`;
    }
  }

  $("tokens-section").addEventListener("toggle", () => {
    if ($("tokens-section").open) {
      loadTokens();
    } else {
      $("new-token").value = ""; // the secret does not linger in the page
      $("new-token-box").hidden = true;
    }
  });

  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("token-name");
    const name = input.value.trim();
    if (!name) {
      tokenError.textContent = "Give the token a name, e.g. hass";
      input.focus();
      return;
    }
    const button = event.target.querySelector('button[type="submit"]');
    button.disabled = true;
    tokenError.textContent = "";
    try {
      const created = await api("/api/tokens", { method: "POST", body: { name } });
      $("new-token").value = created.token;
      $("new-token-box").hidden = false;
      $("new-token").focus();
      $("new-token").select();
      input.value = "";
      await loadTokens();
    } catch (error) {
      if (stopped || error instanceof Unauthorized) return;
      tokenError.textContent = `Could not create the token: ${messageOf(error)}`;
    } finally {
      button.disabled = false;
    }
  });

  $("copy-token").addEventListener("click", async () => {
    const field = $("new-token");
    const button = $("copy-token");
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(field.value);
        copied = true;
      }
    } catch (_) {
      copied = false;
    }
    if (!copied) {
      field.focus();
      field.select();
      try {
        copied = document.execCommand("copy"); // plain http on the LAN has no clipboard API
      } catch (_) {
        copied = false;
      }
    }
    button.textContent = copied ? "Copied" : "Select and copy it";
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2500);
  });

  // ---- start --------------------------------------------------------------------------------------------------

  poll("status", refreshStatus, STATUS_EVERY_MS);
  poll("events", refreshLists, LISTS_EVERY_MS);
})();
