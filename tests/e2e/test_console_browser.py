"""An operator fixes a dead letter in a real (headless) Chromium: overview, filter by errorCode, the record, a
replay with an edit that fixes it, and the customer as the NXCloud simulator stored it. No page logs an error.

With NXBRIDGE_CONSOLE_SCREENSHOTS=DIR the test saves a PNG of each page there (docs/img holds the committed ones).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from nxbridge_dev.local.demo import load_deliveries, post
from nxbridge_dev.local.stack import LocalStack

pytestmark = pytest.mark.e2e

StartStack = Callable[..., LocalStack]
SCREENSHOTS = os.environ.get("NXBRIDGE_CONSOLE_SCREENSHOTS")
FIX = "belong_seat_user=agent@example.com"  # a seat the simulator knows


def shot(browser: WebDriver, name: str) -> None:
    """Save the whole page as DIR/console-<name>.png when screenshots are asked for."""
    if not SCREENSHOTS:
        return
    # The viewport grows to the page's height for the shot (a window resize is capped by the virtual screen).
    height = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    metrics = {"width": 1280, "height": math.ceil(height), "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(Path(SCREENSHOTS) / f"console-{name}.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def text_of(browser: WebDriver, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def follow(browser: WebDriver, element: WebElement) -> None:
    """Click a link or submit button and wait until the next page has loaded: a click returns before a slow
    answer (a preview scans the DLQ) replaces the page, and the old page must not be read in its place. The old
    page's window is marked; a new document has a fresh window without the mark."""
    browser.execute_script("window.nxbridgeOldPage = true;")
    element.click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.nxbridgeOldPage === undefined && document.readyState === 'complete';"
        )
    )


def test_an_operator_replays_a_dead_letter_with_a_fix_and_sees_it_in_nxcloud(
    start_local_stack: StartStack, browser: WebDriver
) -> None:
    stack = start_local_stack(nxcloud_strict_binding=True)
    [delivery] = [d for d in load_deliveries() if d.name == "demo/nxcloud-unknown-seat.json"]
    with requests.Session() as session:
        assert post(session, stack.base_url, delivery).status == 202
    stack.wait_settled(30)
    # A second dead letter with another errorCode, for the filter to leave out.
    stack.aws.sqs().send_message(QueueUrl=stack.require_resources().dlq_url, MessageBody="not an envelope")

    browser.get(stack.console_url)
    assert browser.title.startswith("Overview")
    assert "token" not in browser.current_url
    assert (text_of(browser, "dlq-depth"), text_of(browser, "customers-synced")) == ("2", "1")
    assert text_of(browser, "customers-failed") == "1"
    shot(browser, "overview")

    follow(browser, browser.find_element(By.LINK_TEXT, "Dead letters"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#records tr.record")) == 2
    shot(browser, "dead-letters")
    follow(browser, browser.find_element(By.CSS_SELECTOR, 'a[data-filter="error_code:12148"]'))
    [row] = browser.find_elements(By.CSS_SELECTOR, "#records tr.record")
    assert "12148" in row.text and "unreadable" not in row.text

    follow(browser, row.find_element(By.CSS_SELECTOR, "a.record-link"))
    assert text_of(browser, "error-code") == "12148"
    customer = text_of(browser, "customer")
    assert "Tom Becker" not in customer and "new.agent@example.com" not in customer and "***er" in customer
    shot(browser, "record")
    follow(browser, browser.find_element(By.ID, "reveal"))
    assert "Tom Becker" in text_of(browser, "customer")

    follow(browser, browser.find_element(By.ID, "replay-this"))
    browser.find_element(By.ID, "set").send_keys(FIX)
    shot(browser, "replay")
    follow(browser, browser.find_element(By.ID, "preview"))
    assert text_of(browser, "preview-summary").startswith("1 record would be sent")
    [body] = browser.find_elements(By.CSS_SELECTOR, "pre.planned-body")
    planned = json.loads(body.text)
    assert planned["replay_count"] == 1 and planned["history"][0]["errorCode"] == "12148"
    assert planned["customer"]["belong_seat_user"] == "***om", "masked until revealed"
    shot(browser, "preview")

    follow(browser, browser.find_element(By.ID, "confirm"))
    WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda driver: "Finished" in driver.find_element(By.ID, "job-state").text
    )
    assert text_of(browser, "replayed") == "1"
    shot(browser, "job")

    settled = stack.wait_settled(30)
    assert settled["dlq"]["depth"] == 1
    follow(browser, browser.find_element(By.ID, "to-simulator"))
    follow(browser, browser.find_element(By.ID, "reveal"))
    stored = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#stored tr.stored-customer")]
    assert any("Tom Becker" in r and "agent@example.com" in r for r in stored), stored
    follow(browser, browser.find_element(By.ID, "mask"))
    shot(browser, "simulator")

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
