"""The admin console in headless Chromium against the local stack and the fake tenant.

One browser and one console for the module; the tests run in order on one connection and one
scan: connect through the console (following the Box link in a new tab, answering the fake Box's
consent page), Test API, a scan followed to completion, files by exposure, activity, an alert
dismissed, policies validated. Every page is saved as test-artifacts/console/<page>.png, and
checked for labelled controls, one main landmark, and no browser console errors (a CSP
violation would be one).

Selenium drives Debian's chromium through Debian's chromedriver (/usr/bin): the two come from the
same source package, so their versions always match, and nothing is downloaded.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from boxcasb.cli.api_client import AdminApi
from boxcasb.cli.policies import dry_run_report
from boxcasb.console.server import ConsoleServer
from tests.conftest import ROOT
from tests.support.flows import admin_api, every_page

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "console"
ADMIN = "admin@acme.example"
OVERRIDES = """\
policies:
  - kind: file
    id: console-e2e-public-executable
    name: Executable shared publicly (console e2e)
    severity: high
    filters:
      access: [public]
      extensions: [exe]
"""
# The machine's network is closed: without these, Chromium's background connections are refused
# at start and it fails.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: run scripts/bootstrap.sh")
    profile = tempfile.mkdtemp(prefix="console-e2e-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Service with an explicit driver path: Selenium Manager (which downloads drivers) never runs.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def console(stack: Any) -> Iterator[ConsoleServer]:
    server = ConsoleServer(admin_api(stack.api_url), port=0)
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def api(stack: Any) -> AdminApi:
    return admin_api(stack.api_url)


@pytest.fixture(scope="module")
def session(browser: WebDriver, console: ConsoleServer) -> dict[str, str]:
    """What the tests hand on to each other: the connection made through the console."""
    browser.get(console.launch_url)
    return {}


def wait(browser: WebDriver, seconds: float = 30) -> WebDriverWait[WebDriver]:
    # A live region's content is replaced while a condition reads it: read it again.
    return WebDriverWait(
        browser, seconds, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
    )


def click_through(browser: WebDriver, by: str, value: str) -> None:
    """Click a link or a form's button, and wait for the page the server answers with."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, value).click()
    wait(browser).until(ec.staleness_of(page))
    wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")


def text_of(browser: WebDriver, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def open_page(browser: WebDriver, console: ConsoleServer, path: str) -> None:
    browser.get(console.url.rstrip("/") + path)


def screenshot(browser: WebDriver, page: str) -> Path:
    """The whole page (not only the window) as a PNG, after the checks every page must pass."""
    check_page(browser)
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{page}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


UNLABELLED = """
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML);
"""


def check_page(browser: WebDriver) -> None:
    assert browser.execute_script(UNLABELLED) == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "main")) == 1
    assert browser.find_elements(By.CSS_SELECTOR, "nav[aria-label='Main'] a[aria-current='page']")
    for table in browser.find_elements(By.CSS_SELECTOR, "table"):
        assert table.find_elements(By.CSS_SELECTOR, "thead th[scope=col]")
    # The page's own status is the console's to choose (400 for a form with problems); anything
    # else severe (a script error, a CSP violation, a missing resource) is a defect.
    own = f"{browser.current_url} - "
    logged = browser.get_log("browser")
    assert [e for e in logged if e["level"] == "SEVERE" and not e["message"].startswith(own)] == []


def test_an_admin_connects_box_through_the_console(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi
) -> None:
    assert browser.current_url == console.url  # the token left the address bar for the cookie
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "App connectors"
    click_through(browser, By.ID, "connect-box")
    link = wait(browser).until(ec.element_to_be_clickable((By.ID, "authorize-link")))
    assert "Follow this link" in text_of(browser, "#authorization")
    session["connection"] = browser.current_url.rsplit("/", 1)[1]
    screenshot(browser, "connect")

    console_tab = browser.current_window_handle
    link.click()
    wait(browser).until(lambda b: len(b.window_handles) == 2)
    browser.switch_to.window(next(h for h in browser.window_handles if h != console_tab))
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, f"input[value='{ADMIN}']"))).click()
    browser.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    wait(browser).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Box was successfully connected")
    )
    browser.close()
    browser.switch_to.window(console_tab)
    browser.get_log("browser")  # what Box's pages logged (no favicon there) is not the console's

    # No reload: the page follows the connection by itself.
    wait(browser, 60).until(ec.text_to_be_present_in_element((By.ID, "authorization"), "successfully"))
    assert text_of(browser, "#connect-outcome") == (
        f"Box was successfully connected: Acme Corp as {ADMIN} (role: admin)."
    )
    connection = api.request("GET", f"/connections/{session['connection']}")
    assert (connection["status"], connection["admin_login"]) == ("connected", ADMIN)

    open_page(browser, console, "/")
    row = browser.find_element(By.XPATH, f"//tr[.//a[contains(@href, '{session['connection']}')]]")
    assert "connected" in row.text
    assert ADMIN in row.text
    assert "admin" in row.text
    screenshot(browser, "connectors")


def test_test_api_shows_each_check(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi
) -> None:
    cid = session["connection"]
    open_page(browser, console, f"/connections/{cid}")
    before = api.request("GET", f"/connections/{cid}")["last_test"] or {}
    # The callback started a first run; the button is there once it is over.
    wait(browser, 60).until(ec.element_to_be_clickable((By.ID, "run-test")))
    click_through(browser, By.ID, "run-test")
    assert "Test API started" in text_of(browser, "[role=status]")
    wait(browser, 60).until(ec.text_to_be_present_in_element((By.ID, "test-outcome"), "Test API passed"))
    after = api.request("GET", f"/connections/{cid}")["last_test"]
    assert after["requested_at"] != before.get("requested_at")  # a new run, not the callback's
    rows = browser.find_elements(By.CSS_SELECTOR, "#checks tbody tr")
    shown = [
        (r.find_element(By.TAG_NAME, "th").text, r.find_element(By.CSS_SELECTOR, ".badge").text) for r in rows
    ]
    assert shown == [(check["title"], "pass") for check in after["checks"]]
    assert len(shown) == 5
    screenshot(browser, "connection")


def test_a_scan_is_followed_to_completion(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi, stack: Any
) -> None:
    cid = session["connection"]
    open_page(browser, console, f"/connections/{cid}")
    click_through(browser, By.LINK_TEXT, "Scan")  # the menu keeps the connection in view
    assert browser.find_element(By.ID, "connection").get_attribute("value") == cid
    click_through(browser, By.ID, "start-scan")
    assert "Scan started" in text_of(browser, "[role=status]")
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#generations article h3")]
    assert len(titles) == 1
    assert titles[0].startswith("Scan 1")
    seen: list[tuple[str, str | None]] = []  # (status, progress) as the page showed them

    def complete(b: WebDriver) -> bool:
        title = b.find_element(By.ID, "generation-1-title").text
        seen.append((title.split()[2], b.find_element(By.ID, "progress-1").get_attribute("value")))
        return "complete" in title

    wait(browser, 180).until(complete)
    scan = api.request("GET", f"/connections/{cid}")["scan"]
    assert scan["status"] == "complete"
    counters = scan["counters"]
    progress = browser.find_element(By.ID, "progress-1")
    assert (
        progress.get_attribute("value") == progress.get_attribute("max") == str(counters["jobs_registered"])
    )
    # The page followed the scan by itself: running first, then complete, no reload.
    assert seen[0][0] == "running"
    assert seen[-1] == ("complete", str(counters["jobs_registered"]))
    shown = {
        dt.text: dd.text
        for dt, dd in zip(
            browser.find_elements(By.CSS_SELECTOR, "#generation-1 .counters dt"),
            browser.find_elements(By.CSS_SELECTOR, "#generation-1 .counters dd"),
            strict=True,
        )
    }
    assert shown["Files seen"] == str(counters["files_seen"])
    assert float(shown["Files per second"]) > 0
    assert browser.find_element(By.ID, "start-scan").is_enabled()  # the region refreshed its button too
    browser.find_element(By.CSS_SELECTOR, "#generation-1 details summary").click()
    assert "dave@acme.example" in text_of(browser, "#generation-1 details")  # the inactive user's gap
    stack.wait_for_async(timeout=120)  # alerts and priority rescans settle before the next tests
    screenshot(browser, "scan")


def test_files_filter_by_public_exposure(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi
) -> None:
    cid = session["connection"]
    open_page(browser, console, f"/files?connection={cid}")
    Select(browser.find_element(By.ID, "exposure")).select_by_value("public")
    click_through(browser, By.ID, "apply-filters")
    rows = browser.find_elements(By.CSS_SELECTOR, "#files tbody tr")
    shown = {r.find_element(By.CSS_SELECTOR, "th a").text for r in rows}
    exposures = {r.find_element(By.CSS_SELECTOR, "td.exposure").text for r in rows}
    public = every_page(api, f"/connections/{cid}/files", "files", exposure="public", limit="1000")
    assert shown == {f["name"] for f in public}
    assert "customers.csv" in shown
    assert exposures == {"public"}
    screenshot(browser, "files")

    # Classification is matched by the console (the API has no such filter), any case.
    browser.find_element(By.ID, "classification").send_keys("CONFIDENTIAL")
    click_through(browser, By.ID, "apply-filters")
    classified = {f["name"] for f in public if (f["classification"] or "").lower() == "confidential"}
    rows = browser.find_elements(By.CSS_SELECTOR, "#files tbody tr th a")
    assert {r.text for r in rows} == classified
    assert "customers.csv" in classified
    assert len(classified) < len(public)

    click_through(browser, By.LINK_TEXT, "customers.csv")
    assert browser.find_element(By.TAG_NAME, "h1").text == "customers.csv"
    assert "public" in text_of(browser, "#record-heading + dl")
    findings = text_of(browser, "section[aria-labelledby=findings-heading]")
    record = next(f for f in public if f["name"] == "customers.csv")
    assert record["matched_policies"]
    for policy in record["matched_policies"]:
        assert policy in findings
    screenshot(browser, "file")


def test_activity_shows_the_event_log_and_events_per_day(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi
) -> None:
    cid = session["connection"]
    open_page(browser, console, f"/activity?connection={cid}&days=7")
    assert browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    # The chart counts every event of its period (the fake tenant has far fewer than it reads).
    total = int(text_of(browser, "#chart-caption").split()[0])
    since, until = (
        t.get_attribute("datetime") for t in browser.find_elements(By.CSS_SELECTOR, "#chart-caption time")
    )
    events = every_page(
        api, f"/connections/{cid}/activities", "events", since=quote(since), until=quote(until), limit="500"
    )
    assert total == len(events) > 0
    day_totals = [  # the chart's table, folded in a <details>: read, not rendered
        int(row.find_elements(By.TAG_NAME, "td")[-1].get_attribute("textContent"))
        for row in browser.find_elements(By.CSS_SELECTOR, "figure + ul + details tbody tr")
    ]
    assert len(day_totals) == 8  # seven days back from today, both ends included
    assert sum(day_totals) == total
    screenshot(browser, "activity")


def test_an_alert_is_dismissed_with_its_evidence_in_view(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi
) -> None:
    cid = session["connection"]
    open_page(browser, console, "/alerts")
    Select(browser.find_element(By.ID, "connection")).select_by_value(cid)
    Select(browser.find_element(By.ID, "status")).select_by_value("open")
    click_through(browser, By.ID, "filter-alerts")
    statuses = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#alerts td.status")}
    assert statuses == {"open"}
    screenshot(browser, "alerts")

    click_through(browser, By.CSS_SELECTOR, "#alerts tbody tr th a")
    alert_id = browser.current_url.split("/alerts/")[1].split("?")[0]
    alert = api.request("GET", f"/alerts/{alert_id}?connection={cid}")
    assert alert["policy_id"] in text_of(browser, "section[aria-labelledby=policy-heading]")
    evidence = text_of(browser, "section[aria-labelledby=evidence-heading]")
    assert (alert["evidence"]["exposure"] or "-") in evidence
    browser.find_element(By.ID, "reason").send_keys("Reviewed in the console e2e test")
    click_through(browser, By.ID, "dismiss")
    assert text_of(browser, "[role=status]") == "Alert dismissed."
    assert text_of(browser, "#alert-status").startswith("dismissed")
    stored = api.request("GET", f"/alerts/{alert_id}?connection={cid}")
    assert (stored["status"], stored["dismiss_reason"]) == ("dismissed", "Reviewed in the console e2e test")
    assert not browser.find_elements(By.ID, "dismiss")
    screenshot(browser, "alert")


def test_policies_are_listed_validated_uploaded_and_the_dry_run_shown(
    browser: WebDriver, console: ConsoleServer, session: dict[str, str], api: AdminApi, tmp_path: Path
) -> None:
    cid = session["connection"]
    open_page(browser, console, f"/policies?connection={cid}")
    in_force = api.request("GET", f"/connections/{cid}/policies")["policies"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#policies tbody tr")) == len(in_force)
    editor = browser.find_element(By.ID, "yaml")
    editor.clear()
    editor.send_keys("policies:\n  - kind: file\n    id: no-name\n    severity: loud\n")
    click_through(browser, By.ID, "validate")
    problems = text_of(browser, "#policy-problems")
    assert "nothing was changed" in problems
    assert "line 2: policies[0].name: Field required" in problems
    assert "line 4: policies[0].severity:" in problems
    assert api.request("GET", f"/connections/{cid}/policies")["overrides"] is None
    screenshot(browser, "policies")

    # Uploaded as a file (a multipart form), applied: the stored document is the file's text.
    upload = tmp_path / "overrides.yaml"
    upload.write_text(OVERRIDES)
    browser.find_element(By.ID, "file").send_keys(str(upload))
    click_through(browser, By.ID, "apply")
    assert text_of(browser, "[role=status]") == "Policy overrides applied."
    assert api.request("GET", f"/connections/{cid}/policies")["overrides"]["text"] == OVERRIDES
    assert "console-e2e-public-executable" in text_of(browser, "#policies")

    click_through(browser, By.ID, "dry-run-link")
    proposed, report = dry_run_report(api, cid)  # the CLI's `policies dry-run`
    assert text_of(browser, "main p[role=status]") == report.splitlines()[0]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dry-run tbody tr")) == len(proposed)
    screenshot(browser, "dry-run")
