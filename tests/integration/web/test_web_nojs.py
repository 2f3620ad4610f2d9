"""
The web tester without JavaScript: a Chromium with scripts disabled sends
the plain form, lands on the report, and the page refreshes itself (the
<noscript> meta refresh) until the final report; a plain HTTP fetch sees
the meta refresh while the test runs and none once it is over.
"""
import re

import pytest

from web_harness import SLOW, wait_until

import selenium  # noqa: F401  (scripts/deps.sh installs python3-selenium)

from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException, WebDriverException)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REFRESH = '<noscript><meta http-equiv="refresh" content="2"></noscript>'


def test_report_page_works_without_javascript(browser_nojs, servers):
    w = servers.web()
    closed = servers.sluiced(False, w.catcher_port)
    px = servers.proxy(closed.port, 0.03)     # about 4 s of testing
    d = browser_nojs
    d.get(w.base + "/")
    d.find_element(By.NAME, "target").send_keys("127.0.0.1")
    # the menu offers 25, 587 and 465: add the proxy's port (the driver's
    # own evaluation works even where the page's scripts may not run)
    d.execute_script(
        "var s=document.querySelector('select[name=port]');"
        "var o=document.createElement('option');o.text=arguments[0];"
        "s.add(o);s.value=arguments[0];", str(px.port))
    d.find_element(By.CSS_SELECTOR, "form.test button[type=submit]").click()
    WebDriverWait(d, 10 * SLOW).until(lambda d: "/r/" in d.current_url)
    rid = re.search(r"/r/([0-9a-f]+)$", d.current_url).group(1)
    assert d.find_element(By.ID, "report").get_attribute("data-state") in (
        "queued", "running")
    # scripts are off: the <noscript> content is live markup, so the meta
    # refresh is in the DOM (with scripts on it would be inert text)
    assert d.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')

    # the same page over plain HTTP, while the test runs
    c = w.client()
    r = c.get(f"/r/{rid}")
    assert r.status == 200 and REFRESH in r.text, r

    # left alone, the page reloads itself until the report is final
    seen = set()

    def finished(d):
        try:
            s = d.find_element(By.ID, "report").get_attribute("data-state")
        except (StaleElementReferenceException, WebDriverException):
            # the meta refresh navigated between finding and reading
            # ("Node with given id does not belong to the document")
            return False
        seen.add(s)
        return s in ("done", "error")
    WebDriverWait(d, 40 * SLOW, poll_frequency=0.2,
                  ignored_exceptions=[StaleElementReferenceException]) \
        .until(finished)
    assert "running" in seen
    assert d.current_url == f"{w.base}/r/{rid}"
    assert d.find_element(By.CSS_SELECTOR,
                          "#report div.verdict span.v").text == "closed"
    assert "Closed: all 43 relay attempts were refused" in \
        d.find_element(By.ID, "report").text
    assert d.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]') \
        == []

    # over plain HTTP: the final report, no refresh
    r = c.get(f"/r/{rid}")
    assert r.status == 200 and REFRESH not in r.text
    assert 'data-state="done"' in r.text and ">closed</span>" in r.text
    # the fragment the script would fetch is the report block alone
    f = c.get(f"/r/{rid}?fragment=1")
    assert f.status == 200 and f.text.startswith('<div id="report"')
    assert "<html" not in f.text


def test_finished_report_has_no_refresh(servers):
    """A report over plain HTTP: the refresh only while it runs."""
    w = servers.web()
    fake = servers.fake(delay=0.01)
    c = w.client("198.51.100.40")
    rid = c.api_submit("127.0.0.1", fake.port).json()["id"]
    r = c.get(f"/r/{rid}")
    assert REFRESH in r.text
    c.wait_report(rid)
    wait_until(lambda: REFRESH not in c.get(f"/r/{rid}").text, 5,
               what="the refresh to go")
