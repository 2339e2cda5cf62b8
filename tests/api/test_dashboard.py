"""The dashboard and the login page in a real browser: Debian's Chromium driven by Playwright.

The live test runs the whole appliance (an RTSP camera walking a person past the real
detector) and goes through it as a user would: the login redirect, a wrong password, the
dashboard's latest frame and event snapshot, the mode switch, a screenshot, the logout.
The setup test is the first boot: no password yet, only the console's setup code.

Both watch the browser console for the whole run: a CSP violation, an uncaught exception or
a failed request is an error there, and only the few failures the steps provoke on purpose
(and latest.jpg / snapshot 404s before the first frame / snapshot) are tolerated.

The pages' scripts are ES modules (app/api/static/*.js, checked by `tsc --noEmit` in the test
command); a module that fails to load or to link stops its page silently, so one test loads
both pages and checks every module arrived as JavaScript and ran. The setup form's password
check takes the server's rule from the page the server rendered, never a number of its own.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from app import __version__
from app.api.app import STATIC, create_app, login_page_html
from app.api.auth import passwords
from app.api.server import ApiServer
from tests.api.conftest import PASSWORD, Stack, make_security

CHROMIUM = Path("/usr/bin/chromium")
# Needed as root on a closed network: no sandbox (root), nothing that phones home.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
]
ARTEFACTS = Path(os.environ.get("EDGEWATCH_ARTEFACTS", "test-artefacts"))
STRONG_PASSWORD = "violet tractor hums 1987 quietly"
WEAK_PASSWORD = "password1234"  # long enough for the page's own check; the server calls it weak
FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")
LATEST_JPG = re.compile(r"^/api/cameras/[A-Za-z0-9_-]+/latest\.jpg$")
SNAPSHOT_JPG = re.compile(r"^/api/events/[A-Za-z0-9_.:-]+/snapshot\.jpg$")

FRAME_LOADED = """(name) => {
  const card = document.querySelector(`[data-camera="${name}"]`);
  if (!card || card.dataset.state !== "online") return false;
  const badge = card.querySelector(".badge.ok");
  const img = card.querySelector("img.latest");
  return badge !== null && badge.textContent === "online" && img !== null && img.complete && img.naturalWidth > 0;
}"""
SNAPSHOT_LOADED = """() => {
  const loaded = Array.from(document.querySelectorAll("#events li[data-event] img.snapshot"))
    .find((img) => img.complete && img.naturalWidth > 0);
  return loaded ? loaded.closest("li[data-event]").dataset.event : null;
}"""


@dataclass
class Console:
    """Console errors and uncaught exceptions of a page; the expected failures are counted, not hidden."""

    frames_pending: bool = True  # latest.jpg answers 404 until the camera delivered a frame
    snapshots_pending: bool = True
    refused: dict[tuple[int, str], int] = field(default_factory=dict)  # (status, path) -> count, login/setup only
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._uncaught)

    def _uncaught(self, error: PlaywrightError) -> None:
        self.problems.append(f"uncaught exception: {error}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        path = urlsplit(message.location.get("url", "")).path
        failed = FAILED_LOAD.match(message.text)
        status = int(failed.group(1)) if failed else None
        if status == 404 and self.frames_pending and LATEST_JPG.match(path):
            return
        if status == 404 and self.snapshots_pending and SNAPSHOT_JPG.match(path):
            return
        if status is not None and path in ("/api/login", "/api/setup"):
            self.refused[status, path] = self.refused.get((status, path), 0) + 1
            return
        self.problems.append(f"{message.text} ({message.location.get('url', '?')})")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG among the test artefacts, for a human to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / name
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
    return shot


def test_dashboard_shows_the_live_appliance(browser: Browser, live_api: Stack) -> None:
    base = live_api.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()
    console.watch(page)

    # Not logged in: the dashboard sends us to the login page, which tells nothing about the box.
    page.goto(f"{base}/")
    assert path_of(page) == "/login"
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#setup-form")).to_be_hidden()
    expect(page.locator("#username")).to_have_value("admin")
    html = page.content()
    assert re.search(rf"\b{re.escape(live_api.config.node_id)}\b", html) is None
    assert __version__ not in html

    page.fill("#password", "not the password at all")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#error")).to_have_text("Wrong username or password")
    assert path_of(page) == "/login"

    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/")
    expect(page.locator("#node")).to_have_text(live_api.config.node_id)
    expect(page.locator("#version")).to_have_text(f"v{__version__}")

    # The camera card: online, and its latest frame really decoded.
    card = page.locator('[data-camera="driveway"]')
    page.wait_for_function(FRAME_LOADED, arg="driveway", timeout=30_000)
    console.frames_pending = False
    expect(card.locator(".placeholder")).to_be_hidden()
    expect(card.locator("h3")).to_have_text("Driveway")  # its display name: the id made readable
    expect(card.locator(".stats")).to_contain_text("fps in")
    expect(page.locator("#detector [data-field=model]")).not_to_have_text("—")
    expect(page.locator("#mqtt")).to_contain_text("no broker configured")

    # She is confirmed and the event saved while she walks; its snapshot loads in the list.
    event_id = page.wait_for_function(SNAPSHOT_LOADED, timeout=40_000).json_value()
    console.snapshots_pending = False
    assert isinstance(event_id, str)
    stored = page.request.get(f"{base}/api/events/{event_id}")
    assert stored.status == 200
    event = stored.json()
    item = page.locator(f'#events li[data-event="{event_id}"]')
    expect(item.locator("a.thumb")).to_have_attribute("href", event["snapshot_url"])
    expect(item.locator("a.thumb")).to_have_attribute("target", "_blank")
    expect(item).to_contain_text(event["label"])
    expect(item).to_contain_text("Driveway")
    expect(item.locator(".score")).to_have_text(re.compile(r"^\d{1,3}%$"))  # the score moves while she walks

    # Her footage plays in the page: once a segment of it is on disk, "Play clip" opens a
    # <video> of /api/events/{id}/clip.mp4 and Chromium plays it (time advances, no media error).
    def has_clip() -> bool:
        listed = page.request.get(f"{base}/api/events").json()
        return any(e["id"] == event_id and e["clip"] for e in listed)

    deadline = time.monotonic() + 30
    while not has_clip() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert has_clip(), "no footage indexed for her event within 30 s"
    expect(item.locator("button.clip-button")).to_be_visible(timeout=10_000)
    item.locator("button.clip-button").click()
    video = item.locator("video.clip")
    expect(video).to_be_visible()
    page.wait_for_function("(v) => v.currentTime > 0.5 && !v.error", arg=video.element_handle(), timeout=20_000)
    assert video.evaluate("(v) => v.error === null && v.videoWidth") == 1280
    item.locator("button.clip-button").click()  # close it again
    expect(video).to_have_count(0)

    # The card counts what is in view per class while she walks through (the clip loops).
    expect(card.locator(".objects")).to_contain_text(re.compile(r"(^| · )1 person( · |$)"), timeout=40_000)

    # A detector that cannot keep up: the card says how far behind this camera is. (The live
    # detector keeps up here, so the real status is changed on its way to the page.)
    def behind(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for c in body["cameras"]:
            c.update(online=True, fps_detect=2.1, detect_fps_target=5.0, lag_s=1.4, behind=True)
        route.fulfill(response=answer, json=body)

    stats = card.locator(".stats")
    page.route("**/api/status", behind)
    expect(stats).to_contain_text("behind: 2.1 of 5 fps, results 1.4 s late", timeout=15_000)
    expect(stats).to_have_class(re.compile(r"\bbehind\b"))
    page.unroute("**/api/status", behind)
    expect(stats).not_to_contain_text("2.1 of 5 fps", timeout=15_000)  # the real status again

    # The events filter offers every tracked class; choosing one asks the API for that class only.
    tracked = page.request.get(f"{base}/api/status").json()["objects_tracked"]
    labels = page.locator("#event-label")
    expect(labels).to_be_enabled()
    expect(labels.locator("option")).to_have_count(len(tracked) + 1)
    assert labels.locator("option").evaluate_all("(os) => os.map((o) => o.value)") == ["", *tracked]
    with page.expect_response(lambda r: "label=car" in (urlsplit(r.url).query or "")) as cars:
        page.select_option("#event-label", "car")
    assert cars.value.status == 200
    assert urlsplit(cars.value.url).path == "/api/events"
    expect(page.locator("#events li[data-event]")).to_have_count(0)
    expect(page.locator("#events .empty")).to_have_text("No car events yet.")
    with page.expect_response(lambda r: "label=person" in (urlsplit(r.url).query or "")):
        page.select_option("#event-label", "person")
    people = page.locator("#events li[data-event] .event-title strong")
    expect(people.first).to_have_text("person")  # hers (the garage's parked motorcycles are events too)
    assert set(people.all_text_contents()) == {"person"}
    page.select_option("#event-label", "")
    expect(page.locator(f'#events li[data-event="{event_id}"]')).to_be_visible()

    # The mode switch goes through to the service.
    assert page.request.get(f"{base}/api/status").json()["mode"] == "away"
    expect(page.locator("#mode")).to_have_value("away")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/mode" and r.request.method == "PUT") as put:
        page.select_option("#mode", "home")
    assert put.value.status == 200
    status = page.request.get(f"{base}/api/status")
    assert status.status == 200
    assert status.json()["mode"] == "home"
    assert live_api.service.mode.value == "home"
    expect(page.locator("#mode")).to_have_value("home")
    expect(page.locator("#mode-error")).to_be_hidden()

    # An API token for a hub: shown once, works as a Bearer token, and stops working once revoked.
    page.click("#tokens-section summary")
    expect(page.locator("#tokens")).to_contain_text("No tokens yet.")
    page.fill("#token-name", "hass")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#new-token-box")).to_be_visible()
    secret = page.input_value("#new-token")
    assert secret.startswith("ewt_")
    tokens = page.locator("#tokens li[data-token]")
    expect(tokens).to_have_count(1)
    expect(tokens).to_contain_text("hass")
    assert httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    screenshot(page, "dashboard.png")

    revoke = tokens.locator("button.danger")
    revoke.click()
    expect(revoke).to_have_text("Click again to revoke")
    revoke.click()
    expect(tokens).to_have_count(0)
    assert httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    page.click("#logout")
    page.wait_for_url(f"{base}/login")
    expect(page.locator("#login-form")).to_be_visible()
    assert page.request.get(f"{base}/api/status").status == 401
    context.close()

    assert console.refused == {(401, "/api/login"): 1}  # the one wrong password, nothing else
    assert console.problems == []


def test_first_boot_setup_form(browser: Browser, stack: Stack, tmp_path: Path) -> None:
    security = make_security(tmp_path / "fresh", password=None)
    assert security.setup_code is not None
    assert not security.credentials.has_password()
    server = ApiServer(create_app(stack.service, stack.service.metrics, security, stack.config.api), "127.0.0.1", 0)
    server.start()
    try:
        assert server.port is not None
        base = f"http://127.0.0.1:{server.port}"
        context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        context.set_default_timeout(10_000)
        page = context.new_page()
        console = Console()  # the porch camera never delivers a frame: its 404s stay expected
        console.watch(page)

        page.goto(f"{base}/")
        assert path_of(page) == "/login"
        expect(page.locator("#setup-form")).to_be_visible()
        expect(page.locator("#login-form")).to_be_hidden()
        submit = page.locator("#setup-form button[type=submit]")
        screenshot(page, "setup-phone.png")

        page.fill("#setup-code", security.setup_code.code)
        page.fill("#new-password", STRONG_PASSWORD)
        page.fill("#repeat-password", STRONG_PASSWORD + "!")
        submit.click()
        expect(page.locator("#error")).to_have_text("The two passwords do not match")

        page.fill("#setup-code", "0000-0000-0000")  # 0 is not in the code's alphabet: never right
        page.fill("#repeat-password", STRONG_PASSWORD)
        submit.click()
        expect(page.locator("#error")).to_contain_text("Wrong setup code")

        page.fill("#setup-code", security.setup_code.code)
        page.fill("#new-password", WEAK_PASSWORD)
        page.fill("#repeat-password", WEAK_PASSWORD)
        submit.click()
        expect(page.locator("#error")).to_contain_text("password too weak")
        assert not security.credentials.has_password()
        assert path_of(page) == "/login"

        page.fill("#new-password", STRONG_PASSWORD)
        page.fill("#repeat-password", STRONG_PASSWORD)
        submit.click()
        page.wait_for_url(f"{base}/")
        expect(page.locator("#node")).to_have_text(stack.config.node_id)
        expect(page.locator('[data-camera="porch"] .placeholder')).to_have_text("no frame yet")
        expect(page.locator('[data-camera="porch"] .placeholder')).to_be_visible()
        page.wait_for_function(SNAPSHOT_LOADED)  # the stored event's snapshot
        screenshot(page, "dashboard-phone.png")
        assert security.credentials.has_password()
        assert security.credentials.verify_password("admin", STRONG_PASSWORD)
        context.close()

        assert console.refused == {(401, "/api/setup"): 1, (422, "/api/setup"): 1}
        assert console.problems == []
    finally:
        server.stop()


def test_pages_load_their_modules(browser: Browser, serve: Callable[..., str]) -> None:
    base = serve()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()  # the porch camera never delivers a frame: its 404s stay expected
    console.watch(page)
    modules: dict[str, tuple[int, str]] = {}  # /assets/x.js -> (status, content type), as Chromium got them

    def got(response: Response) -> None:
        path = urlsplit(response.url).path
        if path.startswith("/assets/") and path.endswith(".js"):
            modules[path] = (response.status, response.headers.get("content-type", ""))

    page.on("response", got)
    scripts = "(ss) => ss.map((s) => [s.type, new URL(s.src || 'inline:', location.href).pathname])"

    page.goto(f"{base}/login")
    expect(page.locator("#login-form")).to_be_visible()  # login.js ran: it shows the form
    expect(page.locator("#loading")).to_be_hidden()
    assert page.eval_on_selector_all("script", scripts) == [["module", "/assets/login.js"]]
    login_modules = set(modules)
    assert {"/assets/login.js", "/assets/http.js", "/assets/dom.js"} <= login_modules

    answer = page.request.post(f"{base}/api/login", data={"username": "admin", "password": PASSWORD})
    assert answer.status == 204
    page.goto(f"{base}/")
    assert path_of(page) == "/"
    expect(page.locator("#statusline")).to_have_text("Live")  # both polls answered and were shown
    expect(page.locator("#events li[data-event]")).to_have_count(1)
    page.click("#tokens-section summary")  # tokens.js listed them
    expect(page.locator("#tokens")).to_contain_text("No tokens yet.")
    assert page.eval_on_selector_all("script", scripts) == [["module", "/assets/dashboard.js"]]
    dashboard_modules = set(modules) - {"/assets/login.js"}
    assert {"/assets/dashboard.js", "/assets/http.js", "/assets/tokens.js"} <= dashboard_modules

    # Every module in the folder is one a page loads (tsc checks them all: none is left over), each
    # served with a JavaScript type (a module with another type is refused, and nosniff is on).
    assert set(modules) == {f"/assets/{p.name}" for p in STATIC.glob("*.js")}
    for path, (status, kind) in modules.items():
        assert status == 200, path
        assert kind.split(";")[0].strip() == "text/javascript", (path, kind)
    context.close()
    assert console.problems == []


def test_login_page_carries_the_servers_password_rule() -> None:
    html = login_page_html()
    assert "$" not in html  # every placeholder filled
    assert html.count(f'minlength="{passwords.MIN_PASSWORD_CHARS}"') == 2  # new password and its repeat
    assert html.count(f'maxlength="{passwords.MAX_PASSWORD_CHARS}"') == 3  # and the login form's
    assert f"at least {passwords.MIN_PASSWORD_CHARS} characters" in html
    assert f'value="{passwords.USERNAME}"' in html


def test_setup_form_checks_the_servers_password_rule(
    browser: Browser, serve: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rule the page could not have copied: the form must say and enforce 14, from the server.
    monkeypatch.setattr(passwords, "MIN_PASSWORD_CHARS", 14)
    security = make_security(tmp_path / "fresh", password=None)
    assert security.setup_code is not None
    base = serve(security=security)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    posted: list[str] = []
    page.on("request", lambda r: posted.append(urlsplit(r.url).path) if r.method == "POST" else None)

    page.goto(f"{base}/login")
    expect(page.locator("#setup-form")).to_be_visible()
    expect(page.locator("#setup-form .hint")).to_contain_text("at least 14 characters")
    page.fill("#setup-code", security.setup_code.code)
    page.fill("#new-password", "violet tract")  # 12 characters: enough for the old copy of the rule
    page.fill("#repeat-password", "violet tract")
    page.click("#setup-form button[type=submit]")
    expect(page.locator("#error")).to_have_text("The password is too short: use at least 14 characters")
    expect(page.locator("#new-password")).to_be_focused()
    assert posted == []  # refused in the page, before the setup code was spent on it

    # The server holds to the same rule: 13 characters pass the page's length check only if the page is wrong.
    answer = page.request.post(
        f"{base}/api/setup", data={"code": security.setup_code.code, "password": "violet tracto"}
    )
    assert answer.status == 422
    assert "at least 14 characters" in answer.json()["detail"]
    context.close()
    assert not security.credentials.has_password()
    assert console.problems == []
