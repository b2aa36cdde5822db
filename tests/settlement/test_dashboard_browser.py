"""The live dashboard in a real headless Chromium: a fleet settles through `settlement serve`,
the page loads without console errors, its chart and tables show that run, and a transaction's
link opens its details. The screenshot is kept in ``runs/ci/dashboard.png``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.cli_helpers import run_program, served

pytestmark = [pytest.mark.anvil, pytest.mark.browser]

API_KEY = "dashboard-key"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / "runs" / "ci" / "dashboard.png"
PAGE_WAIT_S = 30
# Headless, and quiet: this machine's network is closed, so no background connections.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = "Debian's chromium and chromium-driver are not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs them: {reason} (.ci/run installs them)")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_dashboard_shows_a_fleet_run_without_console_errors(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    with served(tmp_path, API_KEY, "--window-seconds", "0.3") as url:
        fleet = run_program(
            "robots", "simulate", "--steps", "20", "--mode", "batch", "--settlement-url", url,
            "--out", str(tmp_path / "run"),
            env=dict(os.environ, SETTLEMENT_API_KEY=API_KEY),
        )  # fmt: skip
        assert fleet.returncode == 0, fleet.stderr

        browser.get(f"{url}/dashboard")
        WebDriverWait(browser, PAGE_WAIT_S).until(
            lambda page: page.find_elements(By.CSS_SELECTOR, "#transactions tbody tr")
        )
        settled = int(browser.find_element(By.ID, "settled-total").text.replace(",", ""))
        assert settled > 0
        assert browser.find_elements(By.CSS_SELECTOR, "#throughput polyline.series")
        modes = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#modes tbody tr")]
        assert any(row.startswith("batch") for row in modes)

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
        shutil.copy(SCREENSHOT, tmp_path / "run" / "dashboard.png")
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []

        browser.find_element(By.CSS_SELECTOR, "#transactions tbody tr a").click()
        WebDriverWait(browser, PAGE_WAIT_S).until(lambda page: "payment_ids" in page.page_source)
        assert '"mode":"batch"' in browser.page_source
    assert SCREENSHOT.stat().st_size > 10_000
