"""Real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium 4,
for the staff pages. Selenium is blocking: tests call it through ``asyncio.to_thread``
so the engine sharing their event loop keeps answering calls.

Screenshots on demand: ``IVR_SCREENSHOTS=dir`` makes ``shot(name)`` write
``dir/<name>.png``; without it, nothing is written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS_ENV = "IVR_SCREENSHOTS"


def chromium() -> webdriver.Chrome:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} missing: Debian's chromium and chromium-driver (scripts/setup)")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox",  # root in CI: no user namespace sandbox
                "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Page:
    """One browser tab on the staff site at ``base`` (e.g. http://127.0.0.1:29080)."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base.rstrip("/")

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def texts(self, css: str) -> list[str]:
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def fill(self, element_id: str, value: str) -> None:
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)

    def click(self, element_id: str) -> None:
        self.driver.find_element(By.ID, element_id).click()

    def select(self, element_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.driver.find_element(By.ID, element_id)).select_by_value(value)

    def wait_for(self, condition, timeout: float = 30.0, message: str = ""):
        """``condition(page)`` truthy within ``timeout`` s (polled every 0.2 s)."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(
            lambda _driver: condition(self), message)

    def sign_in(self, user: str, password: str) -> None:
        self.open("/login")
        self.fill("user", user)
        self.fill("password", password)
        self.click("sign-in")
        self.wait_for(lambda p: p.driver.current_url.endswith("/console"), 15,
                      "not on the console after signing in")

    def shot(self, name: str) -> Path | None:
        folder = os.environ.get(SCREENSHOTS_ENV)
        if not folder:
            return None
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path
