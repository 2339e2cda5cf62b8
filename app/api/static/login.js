// edgewatch login and first-boot setup page. Plain ES2020, no framework; everything the server says is shown
// with textContent, never parsed as HTML. This page shows nothing about the box itself.
"use strict";

(() => {
  const MIN_PASSWORD = 10;
  const $ = (id) => document.getElementById(id);
  const errorBox = $("error");
  const loginForm = $("login-form");
  const setupForm = $("setup-form");

  function showError(text) {
    errorBox.textContent = text || "";
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

  async function detailOf(response) {
    try {
      const body = await response.json();
      return describe(body && body.detail);
    } catch (_) {
      return "";
    }
  }

  async function postJson(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  function retryText(response) {
    const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
    return Number.isFinite(seconds) && seconds >= 0
      ? `Too many attempts — try again in ${Math.max(1, seconds)} s`
      : "Too many attempts — try again later";
  }

  // One submit at a time; the button says what is happening.
  async function submitting(form, work) {
    const button = form.querySelector('button[type="submit"]');
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

  async function login(event) {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!username || !password) {
      showError("Enter the username and the password");
      (username ? $("password") : $("username")).focus();
      return;
    }
    showError("");
    await submitting(loginForm, async () => {
      const response = await postJson("/api/login", { username, password });
      if (response.status === 204) {
        location.assign("/");
        return;
      }
      if (response.status === 401) {
        showError("Wrong username or password");
        $("password").select();
      } else if (response.status === 429) {
        showError(retryText(response));
      } else if (response.status === 409) {
        showError((await detailOf(response)) || "No password is set yet");
        await showMode(); // the password may have been wiped: offer the setup form if it applies
      } else {
        const why = await detailOf(response);
        showError(why || `Sign-in failed (HTTP ${response.status})`);
      }
    });
  }

  async function setup(event) {
    event.preventDefault();
    const code = $("setup-code").value.trim();
    const password = $("new-password").value;
    const repeat = $("repeat-password").value;
    if (!code) {
      showError("Enter the setup code shown on the console");
      $("setup-code").focus();
      return;
    }
    if (password.length < MIN_PASSWORD) {
      showError(`The password is too short: use at least ${MIN_PASSWORD} characters`);
      $("new-password").focus();
      return;
    }
    if (password !== repeat) {
      showError("The two passwords do not match");
      $("repeat-password").focus();
      return;
    }
    showError("");
    await submitting(setupForm, async () => {
      const response = await postJson("/api/setup", { code, password });
      if (response.status === 204) {
        location.assign("/");
        return;
      }
      if (response.status === 401) {
        showError("Wrong setup code — it is printed on the appliance's console at start");
        $("setup-code").select();
      } else if (response.status === 429) {
        showError(retryText(response));
      } else if (response.status === 409) {
        showError((await detailOf(response)) || "The password is already set; sign in instead");
        await showMode();
      } else if (response.status === 422) {
        showError((await detailOf(response)) || "That password was refused; choose another one");
        $("new-password").focus();
      } else {
        const why = await detailOf(response);
        showError(why || `Setup failed (HTTP ${response.status})`);
      }
    });
  }

  async function showMode() {
    let required = false;
    try {
      const response = await fetch("/api/setup", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const body = await response.json();
        required = Boolean(body && body.required === true);
      } else {
        showError((await detailOf(response)) || `The appliance answered HTTP ${response.status}`);
      }
    } catch (_) {
      showError("Cannot reach the appliance — check the network and reload");
    }
    $("loading").hidden = true;
    setupForm.hidden = !required;
    loginForm.hidden = required;
    const first = required ? $("setup-code") : $("password");
    first.focus();
  }

  loginForm.addEventListener("submit", login);
  setupForm.addEventListener("submit", setup);
  showMode();
})();
