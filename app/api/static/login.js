// @ts-check
// edgewatch login and first-boot setup page. Everything the server says is shown with textContent, never
// parsed as HTML. This page shows nothing about the box itself. The password rule is the server's: it
// writes its limits into the setup form's minlength/maxlength (app/api/app.py renders this page), so the
// check below refuses exactly what the server would, and nothing here copies a number.
import { byId, submitButton } from "./dom.js";
import { reasonOf, request } from "./http.js";

const errorBox = byId("error");
const loginForm = byId("login-form", HTMLFormElement);
const setupForm = byId("setup-form", HTMLFormElement);
const usernameInput = byId("username", HTMLInputElement);
const passwordInput = byId("password", HTMLInputElement);
const codeInput = byId("setup-code", HTMLInputElement);
const newPasswordInput = byId("new-password", HTMLInputElement);
const repeatInput = byId("repeat-password", HTMLInputElement);

/** @param {string} [text] */
function showError(text) {
  errorBox.textContent = text || "";
}

/** @param {Response} response */
function retryText(response) {
  const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(seconds) && seconds >= 0
    ? `Too many attempts — try again in ${Math.max(1, seconds)} s`
    : "Too many attempts — try again later";
}

/**
 * One submit at a time; the button says what is happening.
 * @param {HTMLFormElement} form
 * @param {() => Promise<void>} work
 */
async function submitting(form, work) {
  const button = submitButton(form);
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Please wait…";
  try {
    await work();
  } catch (_) {
    showError("Cannot reach the appliance — check the network and try again");
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

/** @param {SubmitEvent} event */
async function login(event) {
  event.preventDefault();
  const username = usernameInput.value.trim();
  const password = passwordInput.value;
  if (!username || !password) {
    showError("Enter the username and the password");
    (username ? passwordInput : usernameInput).focus();
    return;
  }
  showError("");
  await submitting(loginForm, async () => {
    const response = await request("/api/login", { method: "POST", body: { username, password } });
    if (response.status === 204) {
      location.assign("/");
      return;
    }
    if (response.status === 401) {
      showError("Wrong username or password");
      passwordInput.select();
    } else if (response.status === 429) {
      showError(retryText(response));
    } else if (response.status === 409) {
      showError((await reasonOf(response)) || "No password is set yet");
      await showMode(); // the password may have been wiped: offer the setup form if it applies
    } else {
      const why = await reasonOf(response);
      showError(why || `Sign-in failed (HTTP ${response.status})`);
    }
  });
}

/** @param {SubmitEvent} event */
async function setup(event) {
  event.preventDefault();
  const code = codeInput.value.trim();
  const password = newPasswordInput.value;
  const repeat = repeatInput.value;
  const shortest = newPasswordInput.minLength; // the server's MIN_PASSWORD_CHARS, as it rendered the page
  if (!code) {
    showError("Enter the setup code shown on the console");
    codeInput.focus();
    return;
  }
  if (password.length < shortest) {
    showError(`The password is too short: use at least ${shortest} characters`);
    newPasswordInput.focus();
    return;
  }
  if (password !== repeat) {
    showError("The two passwords do not match");
    repeatInput.focus();
    return;
  }
  showError("");
  await submitting(setupForm, async () => {
    const response = await request("/api/setup", { method: "POST", body: { code, password } });
    if (response.status === 204) {
      location.assign("/");
      return;
    }
    if (response.status === 401) {
      showError("Wrong setup code — it is printed on the appliance's console at start");
      codeInput.select();
    } else if (response.status === 429) {
      showError(retryText(response));
    } else if (response.status === 409) {
      showError((await reasonOf(response)) || "The password is already set; sign in instead");
      await showMode();
    } else if (response.status === 422) {
      showError((await reasonOf(response)) || "That password was refused; choose another one");
      newPasswordInput.focus();
    } else {
      const why = await reasonOf(response);
      showError(why || `Setup failed (HTTP ${response.status})`);
    }
  });
}

/** The setup form until a password exists, the login form after. */
async function showMode() {
  let required = false;
  try {
    const response = await request("/api/setup");
    if (response.ok) {
      /** @type {unknown} */
      const body = await response.json();
      required = body !== null && typeof body === "object" && "required" in body && body.required === true;
    } else {
      showError((await reasonOf(response)) || `The appliance answered HTTP ${response.status}`);
    }
  } catch (_) {
    showError("Cannot reach the appliance — check the network and reload");
  }
  byId("loading").hidden = true;
  setupForm.hidden = !required;
  loginForm.hidden = required;
  (required ? codeInput : passwordInput).focus();
}

loginForm.addEventListener("submit", login);
setupForm.addEventListener("submit", setup);
showMode();
