// @ts-check
// The dashboard's API tokens panel: list, create (the secret shown once), revoke with a second click.
import { byId, el, submitButton } from "./dom.js";
import { localTime } from "./format.js";
import { api, leaving, messageOf } from "./http.js";

/**
 * A token as GET /api/tokens lists it (app/api/models.py TokenOut); never its secret.
 * @typedef {object} Token
 * @property {string} id
 * @property {string} name
 * @property {string} created_at
 * @property {string | null} last_used_at
 */

const REVOKE_ARMED_MS = 4000;
const COPIED_SHOWN_MS = 2500;

const section = byId("tokens-section", HTMLDetailsElement);
const list = byId("tokens");
const form = byId("token-form", HTMLFormElement);
const nameInput = byId("token-name", HTMLInputElement);
const secretBox = byId("new-token-box");
const secretField = byId("new-token", HTMLInputElement);
const copyButton = byId("copy-token", HTMLButtonElement);
const tokenError = byId("token-error");

/** @param {Token} t */
function tokenItem(t) {
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
      }, REVOKE_ARMED_MS);
      return;
    }
    clearTimeout(armed);
    revoke.disabled = true;
    try {
      await api(`/api/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
      tokenError.textContent = "";
    } catch (error) {
      if (leaving(error)) return;
      tokenError.textContent = `Could not revoke ${t.name}: ${messageOf(error)}`;
    }
    await loadTokens();
  });
  li.append(info, revoke);
  return li;
}

/** @param {Token[]} tokens */
function renderTokens(tokens) {
  if (tokens.length === 0) {
    list.replaceChildren(el("li", "empty", "No tokens yet."));
    return;
  }
  list.replaceChildren(...tokens.map(tokenItem));
}

async function loadTokens() {
  try {
    renderTokens(/** @type {Token[]} */ (await api("/api/tokens")));
  } catch (error) {
    if (leaving(error)) return;
    tokenError.textContent = `Could not list the tokens: ${messageOf(error)}`;
  }
}

/** @param {SubmitEvent} event */
async function createToken(event) {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!name) {
    tokenError.textContent = "Give the token a name, e.g. hass";
    nameInput.focus();
    return;
  }
  const button = submitButton(form);
  button.disabled = true;
  tokenError.textContent = "";
  try {
    const answer = await api("/api/tokens", { method: "POST", body: { name } });
    const created = /** @type {Token & {token: string}} */ (answer); // TokenCreated: the secret, this once
    secretField.value = created.token;
    secretBox.hidden = false;
    secretField.focus();
    secretField.select();
    nameInput.value = "";
    await loadTokens();
  } catch (error) {
    if (leaving(error)) return;
    tokenError.textContent = `Could not create the token: ${messageOf(error)}`;
  } finally {
    button.disabled = false;
  }
}

async function copySecret() {
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(secretField.value);
      copied = true;
    }
  } catch (_) {
    copied = false;
  }
  if (!copied) {
    secretField.focus();
    secretField.select();
    try {
      copied = document.execCommand("copy"); // plain http on the LAN has no clipboard API
    } catch (_) {
      copied = false;
    }
  }
  copyButton.textContent = copied ? "Copied" : "Select and copy it";
  setTimeout(() => {
    copyButton.textContent = "Copy";
  }, COPIED_SHOWN_MS);
}

/** Wires the panel; it lists the tokens only when opened. */
export function setUpTokens() {
  section.addEventListener("toggle", () => {
    if (section.open) {
      loadTokens();
    } else {
      secretField.value = ""; // the secret does not linger in the page
      secretBox.hidden = true;
    }
  });
  form.addEventListener("submit", createToken);
  copyButton.addEventListener("click", copySecret);
}
