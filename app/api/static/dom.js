// @ts-check
// Building the page. Everything from the server (camera names, labels, zones, errors) goes in with
// textContent / attributes, never parsed as HTML.
import { localTime } from "./format.js";

export const HIDDEN_RECHECK_MS = 1000; // a hidden page loads nothing, and looks again this often

/**
 * The page's element with this id, checked to be of `type`: a missing one is a bug in the page, said at once.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new () => T} [type]  e.g. HTMLInputElement
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  if (type !== undefined && !(node instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {T} */ (node);
}

/**
 * A new element with a class and text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string | null} [className]
 * @param {unknown} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * @param {string} text
 * @param {string} [kind]  ok, bad, warn, info (the badge's colour)
 */
export function badge(text, kind) {
  return el("span", kind ? `badge ${kind}` : "badge", text);
}

/** @param {string} iso */
export function timeElement(iso) {
  const node = el("time", null, localTime(iso));
  node.dateTime = iso;
  const date = new Date(iso);
  if (!Number.isNaN(date.getTime())) node.title = date.toLocaleString();
  return node;
}

/**
 * The form's submit button.
 * @param {HTMLFormElement} form
 * @returns {HTMLButtonElement}
 */
export function submitButton(form) {
  const button = form.querySelector('button[type="submit"]');
  if (!(button instanceof HTMLButtonElement)) throw new Error(`#${form.id} has no submit button`);
  return button;
}
