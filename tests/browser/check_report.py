"""Opens orgscan's HTML report in headless Chromium (Debian's chromium + chromium-driver, through selenium)
and checks what a person would see. Run by tests/integration/html.rs; exits non-zero with the reason.

  check_report.py REPORT.html EXPECTED.json OUT_DIR     checks, writes OUT_DIR/report.png
  check_report.py --time REPORT.html [RUNS]             prints the median time to first render, in ms
  check_report.py --screenshot REPORT.html OUT.png      the top of the page (overview and heatmap)

EXPECTED.json (written by the Rust test from the JSON report):
  {"totals": {"fail": N, ...}, "filter": {"hash": "check=...&status=FAIL", "rows": N},
   "gap": {"account": "...", "check": "..."} or null}
"""
import json
import os
import statistics
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = os.environ.get("ORGSCAN_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("ORGSCAN_CHROMEDRIVER", "/usr/bin/chromedriver")


def fail(msg):
    print(f"check_report: {msg}", file=sys.stderr)
    sys.exit(1)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver: Selenium Manager never downloads anything.
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)


def rendered(d):
    WebDriverWait(d, 30).until(lambda d: d.execute_script("return document.documentElement.dataset.rendered === 'true'"))


def requests(d):
    """Every URL the page asked for (Chrome DevTools Network events)."""
    urls = []
    for entry in d.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            urls.append(m["params"]["request"]["url"])
    return urls


def quiet(d):
    """No console error or warning, and no request beyond the file itself (logs since the last call)."""
    foreign = [u for u in requests(d) if not u.startswith(("file://", "data:", "about:"))]
    if foreign:
        fail(f"network requests: {foreign}")
    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    if errors:
        fail(f"console messages: {errors}")


def check(report, expected_path, out_dir):
    expected = json.loads(Path(expected_path).read_text())
    url = Path(report).resolve().as_uri()
    d = browser()
    try:
        d.get(url)
        rendered(d)
        # The totals the page shows are the JSON report's.
        for name, want in expected["totals"].items():
            els = d.find_elements(By.CSS_SELECTOR, f'[data-total="{name}"]')
            if not els:
                fail(f"no total {name!r} on the page")
            got = int(els[0].text)
            if got != want:
                fail(f"total {name}: page shows {got}, the JSON report has {want}")
        quiet(d)
        # A filter narrows the table to the expected rows.
        f = expected["filter"]
        Select(d.find_element(By.NAME, "check")).select_by_visible_text(f["check"])
        Select(d.find_element(By.NAME, "status")).select_by_value(f["status"])
        got = int(d.find_element(By.ID, "count").get_attribute("data-count"))
        rows = len(d.find_elements(By.CSS_SELECTOR, "#table tbody tr"))
        if got != f["rows"] or rows != min(f["rows"], 200):
            fail(f"filter {f}: {got} match, {rows} rows shown; expected {f['rows']}")
        for tr in d.find_elements(By.CSS_SELECTOR, "#table tbody tr"):
            cells = tr.find_elements(By.TAG_NAME, "td")
            if cells[1].text != f["check"] or cells[2].text != f["status"]:
                fail(f"a row outside the filter: {[c.text for c in cells[:3]]}")
        # The same filter from the address.
        d.get(url + "#" + f"check={f['check']}&status={f['status']}")
        d.refresh()
        rendered(d)
        got = int(d.find_element(By.ID, "count").get_attribute("data-count"))
        if got != f["rows"]:
            fail(f"filter from the address: {got} rows, expected {f['rows']}")
        # An errored scope is a gap in the heatmap, never a pass.
        g = expected.get("gap")
        if g:
            checks = [th.text for th in d.find_elements(By.CSS_SELECTOR, ".heat thead th")][1:]
            col = checks.index(g["check"])
            cell = None
            for tr in d.find_elements(By.CSS_SELECTOR, ".heat tbody tr"):
                head = tr.find_elements(By.TAG_NAME, "th")
                if head and head[0].text.split(" ")[0] == g["account"]:
                    cell = tr.find_elements(By.CSS_SELECTOR, "button.cell")[col]
            if cell is None:
                fail(f"no heatmap row for account {g['account']}")
            if cell.get_attribute("data-gap") != "true" or cell.get_attribute("data-state") == "pass":
                fail(f"the errored scope of {g} shows as {cell.get_attribute('data-state')} (gap={cell.get_attribute('data-gap')})")
            # By keyboard: the cell is a button, Enter opens its regions.
            cell.send_keys(Keys.ENTER)
            states = [tr.get_attribute("data-state") for tr in d.find_elements(By.CSS_SELECTOR, "#drill tr[data-state]")]
            if "gap" not in states:
                fail(f"the drill-down of {g} shows no region that was not read: {states}")
        d.save_screenshot(str(Path(out_dir) / "report.png"))
        # Printable: in print media the filters and paging give way to the content.
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        if d.find_element(By.ID, "filters").is_displayed() or not d.find_element(By.ID, "heatmap").is_displayed():
            fail("the print layout still shows the filters, or hides the heatmap")
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        quiet(d)
    finally:
        d.quit()
    print("check_report: ok")


def timing(report, runs):
    url = Path(report).resolve().as_uri()
    d = browser()
    try:
        times = []
        for _ in range(runs):
            d.get("about:blank")
            d.get(url)
            rendered(d)
            times.append(d.execute_script(
                "var m = performance.getEntriesByName('orgscan-rendered')[0];"
                "var p = performance.getEntriesByName('first-contentful-paint')[0];"
                "return [m ? m.startTime : -1, p ? p.startTime : -1];"))
        print(json.dumps({"rendered_ms": statistics.median(t[0] for t in times), "first_paint_ms": statistics.median(t[1] for t in times)}))
    finally:
        d.quit()


def screenshot(report, out):
    d = browser()
    try:
        d.set_window_size(1400, 1400)
        d.get(Path(report).resolve().as_uri())
        rendered(d)
        d.save_screenshot(out)
    finally:
        d.quit()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--screenshot":
        screenshot(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "--time":
        timing(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    elif len(sys.argv) == 4:
        check(*sys.argv[1:])
    else:
        fail(__doc__)
