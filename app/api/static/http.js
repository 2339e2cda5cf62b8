// @ts-check
// How the pages talk to the API, written once: every request is same-origin JSON with a deadline;
// a lost login (401) sends the page back to /login; a refusal carries the server's reason (FastAPI's
// `detail`: the API answers 4xx with one), and that reason is what the user is shown.

export const REQUEST_TIMEOUT_MS = 10000;

/** A refusal or a failure of the server: the status, and its reason in words ("" when it gave none). */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} reason
   */
  constructor(status, reason) {
    super(reason ? `${reason} (HTTP ${status})` : `HTTP ${status}`);
    this.name = "HttpError";
    this.status = status;
    this.reason = reason;
  }
}

/** The session is gone, or the page has stopped talking to the API: the page is on its way to /login. */
export class LoginRequired extends Error {
  constructor() {
    super("login required");
    this.name = "LoginRequired";
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {string} [method]  GET unless given
 * @property {unknown} [body]  sent as JSON
 */

/** @type {Set<AbortController>} */
const pending = new Set();
/** @type {Array<() => void>} */
const closers = [];
let closed = false;

/**
 * Runs `stop` when the page stops talking to the API (a logout, or a lost login): its timers must not
 * start requests that would only answer 401.
 * @param {() => void} stop
 */
export function onClose(stop) {
  closers.push(stop);
}

/** True once `close` ran: polls end, and `api` refuses with LoginRequired. */
export function isClosed() {
  return closed;
}

/** Aborts every request in flight and refuses new `api` calls (once). */
export function close() {
  if (closed) return;
  closed = true;
  for (const controller of pending) controller.abort();
  pending.clear();
  for (const stop of closers) stop();
}

/** The session is gone (logged out elsewhere, expired, password changed): back to the login page. */
export function leave() {
  if (closed) return;
  close();
  location.replace("/login");
}

/**
 * True when a failed call needs no message: the page has closed, or is leaving for the login page.
 * @param {unknown} error
 */
export function leaving(error) {
  return closed || error instanceof LoginRequired;
}

/**
 * @template T
 * @param {string} path
 * @param {RequestOptions} options
 * @param {(response: Response) => Promise<T>} read  runs within the deadline, so a stalled body is aborted too
 * @returns {Promise<T>}
 */
async function exchange(path, { method = "GET", body }, read) {
  const controller = new AbortController();
  pending.add(controller);
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", headers, signal: controller.signal, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await read(await fetch(path, init));
  } finally {
    clearTimeout(timer);
    pending.delete(controller);
  }
}

/**
 * The answer whatever its status, for a page that tells statuses apart itself (on the login page a 401
 * means a wrong password, not a lost session). Rejects only when the appliance cannot be reached in time.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<Response>}
 */
export function request(path, options = {}) {
  return exchange(path, options, async (response) => response);
}

/**
 * The answer's JSON (null for 204). A 401 leaves for the login page and throws LoginRequired; any other
 * refusal throws HttpError with the server's reason. Callers cast the result to the route's type.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<unknown>}
 */
export async function api(path, options = {}) {
  if (closed) throw new LoginRequired();
  return exchange(path, options, async (response) => {
    if (response.status === 401) {
      leave();
      throw new LoginRequired();
    }
    if (!response.ok) throw new HttpError(response.status, await reasonOf(response));
    return response.status === 204 ? null : /** @type {unknown} */ (await response.json());
  });
}

/**
 * The server's reason for a refusal, in words; "" when the answer has none or is not JSON.
 * @param {Response} response
 * @returns {Promise<string>}
 */
export async function reasonOf(response) {
  try {
    /** @type {unknown} */
    const body = await response.json();
    return describe(body !== null && typeof body === "object" && "detail" in body ? body.detail : undefined);
  } catch (_) {
    return ""; // not JSON: the status says enough
  }
}

/**
 * FastAPI's `detail`: a string, or a list of {loc, msg, type} for a body that failed validation.
 * @param {unknown} detail
 * @returns {string}
 */
export function describe(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return "";
  return detail
    .map((/** @type {unknown} */ item) => {
      if (item === null || typeof item !== "object") return String(item);
      const loc = "loc" in item && Array.isArray(item.loc) ? item.loc.filter((part) => part !== "body").join(".") : "";
      const msg = "msg" in item && typeof item.msg === "string" ? item.msg : "invalid";
      return loc ? `${loc}: ${msg}` : msg;
    })
    .join("; ");
}

/**
 * What went wrong with a call, for a sentence like "Could not switch to away: …".
 * @param {unknown} error
 * @returns {string}
 */
export function messageOf(error) {
  if (error instanceof HttpError) return error.message;
  // fetch's abort (the deadline) rejects with a DOMException named AbortError
  if (error !== null && typeof error === "object" && "name" in error && error.name === "AbortError") {
    return "no answer in time";
  }
  return "cannot reach the appliance";
}
