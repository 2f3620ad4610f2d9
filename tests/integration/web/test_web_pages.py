"""
The web tester's real pages in headless Chromium (JavaScript on): the form,
the report page filling in by itself, signing in through the sign-in form
for a delivery test, and a hostile server whose banner and replies carry
markup, ANSI escapes and NUL bytes.

The form's port menu offers 25, 587 and 465 only, while the servers here
listen on free high ports (web.allow_private allows them): the test adds
its port to the menu before submitting, the one thing done to a page that
a visitor could not do.
"""
import json
import os
import re
import shutil
import struct

import pytest

from web_harness import SLOW

import selenium  # noqa: F401  (scripts/deps.sh installs python3-selenium)

from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException, StaleElementReferenceException)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

USER, PASSWORD = "alice", "correct horse battery"

HOSTILE = b"<script>alert(1)</script> <img src=x onerror=alert(1)>"


# ---------------------------------------------------------------- helpers


def set_port(d, port):
    """Add port to the form's menu and choose it."""
    d.execute_script(
        "var s=document.querySelector('select[name=port]');"
        "var o=document.createElement('option');o.text=arguments[0];"
        "s.add(o);s.value=arguments[0];", str(port))


def submit_form(d, web, target, port, mode="anonymous"):
    """Fill in and send the home page's form; the report ID."""
    d.get(web.base + "/")
    d.find_element(By.NAME, "target").send_keys(target)
    set_port(d, port)
    d.find_element(By.CSS_SELECTOR,
                   f"input[name=mode][value={mode}]").click()
    d.find_element(By.CSS_SELECTOR, "form.test button[type=submit]").click()
    WebDriverWait(d, 10 * SLOW).until(lambda d: "/r/" in d.current_url)
    m = re.search(r"/r/([0-9a-f]+)$", d.current_url)
    assert m, d.current_url
    return m.group(1)


def report_state(d):
    """(data-state, the report block's text), or None while the block is
    being replaced."""
    try:
        r = d.find_element(By.ID, "report")
        return r.get_attribute("data-state"), r.text
    except StaleElementReferenceException:
        return None


def wait_finished(d, timeout=30, samples=None):
    """Until the page (left alone) shows a finished report; samples gets
    every (state, text) seen on the way."""
    def done(d):
        s = report_state(d)
        if s is None:
            return False
        if samples is not None and (not samples or samples[-1] != s):
            samples.append(s)
        return s[0] in ("done", "error")
    WebDriverWait(d, timeout * SLOW, poll_frequency=0.1,
                  ignored_exceptions=[StaleElementReferenceException]) \
        .until(done)


def verdict(d):
    return d.find_element(By.CSS_SELECTOR, "#report div.verdict span.v").text


def no_alert(d):
    try:
        a = d.switch_to.alert
        text = a.text
    except NoAlertPresentException:
        return
    pytest.fail(f"an alert dialog is open: {text!r}")


def csp_errors(d):
    """Console messages about the Content-Security-Policy (a blocked inline
    script or handler would be one)."""
    return [e for e in d.get_log("browser")
            if "Content Security Policy" in e.get("message", "")]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


# ---------------------------------------------------------------- tests


def test_closed_sluiced_page_fills_in(browser, servers):
    """A closed sluiced, slowed by a proxy: the report page shows the test
    running, fills in by itself (app.js replaces the block: the page is
    never reloaded) and ends with verdict closed."""
    w = servers.web()
    closed = servers.sluiced(False, w.catcher_port)
    px = servers.proxy(closed.port, 0.03)
    d = browser
    d.get_log("browser")
    rid = submit_form(d, w, "127.0.0.1", px.port)
    d.execute_script("window.sluiceMarker = 'same page';")
    samples = []
    wait_finished(d, 40, samples)
    states = [s for s, _ in samples]
    assert "running" in states, samples
    progress = [tuple(map(int, m.groups())) for _, text in samples
                for m in [re.search(r"(\d+) of (\d+) tests done", text)] if m]
    assert any(0 < a < b for a, b in progress), \
        f"never saw a partly filled report: {progress}"
    assert d.execute_script("return window.sluiceMarker") == "same page", \
        "the page was reloaded instead of filled in"
    assert verdict(d) == "closed"
    text = d.find_element(By.ID, "report").text
    assert "Closed: all 43 relay attempts were refused" in text, text
    assert "How to close it" not in text
    rows = d.find_elements(By.CSS_SELECTOR, "table.tests tbody tr")
    assert len(rows) >= 43
    assert "relay-plain" in text
    # the block knows it is over: the script stops polling
    assert d.find_element(By.ID, "report").get_attribute("data-id") == rid
    assert not csp_errors(d)
    no_alert(d)
    # the home page lists it
    d.get(w.base + "/")
    recent = d.find_element(By.CSS_SELECTOR, "main table").text
    assert "127.0.0.1" in recent and "closed" in recent, recent


def test_delivery_refused_when_signed_out(browser, servers):
    """Signed out, the delivery choice is disabled; a visitor who enables
    it by hand is refused by the server (the form comes back with the
    reason) and no report is made."""
    w = servers.web()
    d = browser
    d.get(w.base + "/")
    radio = d.find_element(By.CSS_SELECTOR,
                           "input[name=mode][value=delivery]")
    assert not radio.is_enabled()
    assert "sign in" in d.find_element(By.CSS_SELECTOR, "fieldset").text
    d.find_element(By.NAME, "target").send_keys("127.0.0.1")
    set_port(d, 2525)
    d.execute_script("arguments[0].disabled=false;", radio)
    radio.click()
    d.find_element(By.CSS_SELECTOR, "form.test button[type=submit]").click()
    WebDriverWait(d, 10 * SLOW).until(lambda d: d.current_url.endswith(
        "/test"))
    assert "delivery mode is for signed-in users" in \
        d.find_element(By.CSS_SELECTOR, "p.error").text
    assert d.find_elements(By.ID, "report") == []
    assert "event=web-test " not in w.output()


def test_delivery_open_relay_after_login(browser, servers, tmp_path):
    """Sign in through the sign-in form, test an open sluiced in delivery
    mode: verdict open, and every open relay test backed by a token that
    the built-in catcher received (sluiced's log shows each delivered to
    the catcher's port). The report is the README's screenshot."""
    w = servers.web()
    w.add_user(USER, PASSWORD)
    opn = servers.sluiced(True, w.catcher_port)
    d = browser
    d.get(w.base + "/login")
    d.find_element(By.NAME, "user").send_keys(USER)
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form.test button[type=submit]").click()
    WebDriverWait(d, 10 * SLOW).until(
        lambda d: d.current_url == w.base + "/")
    assert f"signed in as {USER}" in d.find_element(By.CSS_SELECTOR,
                                                     "header").text
    assert d.find_element(By.CSS_SELECTOR,
                          "input[name=mode][value=delivery]").is_enabled()
    rid = submit_form(d, w, "127.0.0.1", opn.port, mode="delivery")
    wait_finished(d, 40)
    assert verdict(d) == "open"
    text = d.find_element(By.ID, "report").text
    assert "OPEN RELAY" in text and "How to close it" in text, text
    assert "relayed: token received" in text
    no_alert(d)

    # the same report as JSON: each open test's token reached the catcher
    rep = json.loads(w.client().get(f"/api/tests/{rid}").body)
    assert rep["mode"] == "delivery" and rep["verdict"] == "open", rep
    tests = rep["hosts"][0]["tests"]
    opened = [t for t in tests if t["verdict"] == "open"]
    assert opened and all(t["kind"] == "relay" for t in opened)
    assert {t["note"] for t in opened} == {"relayed: token received"}
    relay_plain = [t for t in tests if t["id"] == "relay-plain"][0]
    assert relay_plain["verdict"] == "open", relay_plain
    log = opn.log.read_text(errors="replace")
    for t in opened:
        qid = re.search(r"queued as (\S+)", t["data_reply"]).group(1)
        assert re.search(rf"event=delivery qid={qid} .*"
                         rf"relay=\S*:{w.catcher_port} status=sent", log), \
            f"{t['id']}: sluiced did not deliver {qid} to the catcher"

    # the README's picture: the finished report, loaded afresh
    d.get(f"{w.base}/r/{rid}")
    assert verdict(d) == "open"
    shot = tmp_path / "web-report.png"
    assert d.save_screenshot(str(shot))
    assert png_size(shot) == (1280, 1600)
    assert shot.stat().st_size > 50_000
    dest = os.environ.get("SLUICE_WEB_SCREENSHOT")
    if dest:
        shutil.copyfile(shot, dest)


def test_hostile_server_is_shown_as_text(browser, servers):
    """Banner and replies carrying <script>, <img onerror>, ANSI escapes and
    NUL bytes: the page (first the fragments the script pulls in, then the
    page loaded afresh) shows them as text: no dialog, no injected element,
    no blocked inline script, no raw control character."""
    w = servers.web({"web.timeout": "2s"})
    evil = servers.fake(
        banner=b"220 evil.test " + HOSTILE + b" \x1b[31mRED\x1b[0m "
               b"\x00NUL\r\n",
        replies={"EHLO": b"250-evil.test " + HOSTILE + b"\r\n"
                         b"250 8BITMIME \x1b]0;pwned\x07\r\n",
                 "MAIL": b"250 2.1.0 " + HOSTILE + b"\r\n",
                 "RCPT": b"550 5.7.1 " + HOSTILE + b" \x1b[2J\x00x\r\n"},
        delay=0.02)
    d = browser
    d.get_log("browser")
    sid = d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "window.cspViolations=[];document.addEventListener("
                  "'securitypolicyviolation',function(e){"
                  "window.cspViolations.push(e.violatedDirective+' '+"
                  "e.blockedURI);});"})["identifier"]
    try:
        rid = submit_form(d, w, "127.0.0.1", evil.port)
        samples = []
        wait_finished(d, 40, samples)
        assert "running" in [s for s, _ in samples], \
            "the page never showed the running state (no fragment seen)"
        for fresh in (False, True):
            if fresh:
                d.get(f"{w.base}/r/{rid}")
            no_alert(d)
            assert d.find_elements(By.TAG_NAME, "img") == []
            assert d.find_elements(By.CSS_SELECTOR, "[onerror]") == []
            scripts = [s.get_attribute("src") for s in
                       d.find_elements(By.TAG_NAME, "script")]
            assert scripts == [f"{w.base}/static/app.js"], scripts
            assert d.execute_script("return window.cspViolations") == []
            body = d.find_element(By.TAG_NAME, "body").text
            assert "\x1b" not in body and "\x00" not in body \
                and "\x07" not in body
            banner = d.find_element(
                By.XPATH, "//table[@class='facts']//tr[th='Banner']/td").text
            assert banner.startswith("220 evil.test <script>alert(1)"
                                     "</script> <img src=x "
                                     "onerror=alert(1)>"), banner
            assert "\\x1b[31mRED\\x1b[0m" in banner, banner
            ehlo = d.find_element(
                By.XPATH, "//table[@class='facts']//tr[th='EHLO']/td").text
            assert "\\x1b]0;pwned\\x07" in ehlo, ehlo
            replies = d.find_element(By.CSS_SELECTOR,
                                     "table.tests tbody").text
            assert "550 5.7.1 <script>alert(1)</script>" in replies
            assert "\\x1b[2J" in replies
            assert verdict(d) in ("refuses-all", "closed"), verdict(d)
        assert not csp_errors(d)
        assert d.title.endswith("sluice relay test")
    finally:
        d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                          {"identifier": sid})
    # the JSON API carries the bytes, escaped for JSON (no raw '<')
    r = w.client().get(f"/api/tests/{rid}")
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<" not in r.body and b"\x1b" not in r.body
    assert "<script>alert(1)</script>" in r.json()["hosts"][0]["banner"]
