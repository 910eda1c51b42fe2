"""Playwright driving Debian's Chromium against the running app (real database, real NLU server,
the worker running in a thread). tests/conftest.py registers these fixtures for every module."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from bot.config import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
# As root in a container, and on a machine without general internet access.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture
def live_url(app, worker):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    working = threading.Thread(target=worker.run_forever, daemon=True)
    working.start()
    yield f"http://127.0.0.1:{server.server_port}"
    worker.stopping.set()
    working.join(timeout=30)
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the run (a launch costs about a second); each test has contexts of its
    own, which share no cookies, storage or cache."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A phone: 360 px wide."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN", accept_downloads=True)
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
