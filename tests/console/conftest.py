"""One ``corral serve`` (workers, local sandboxes, the scripted model) and one Debian ``chromium`` driven by
Playwright, shared by the console's browser tests; each test gets a fresh browser context (no cookies).

Screenshots go to ``$CORRAL_CONSOLE_SCREENSHOTS`` when it is set (``docs/console`` to refresh the README's), else
under the test run's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from corral.testing import ScriptedModelServer, reply, text
from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by script/setup; never `playwright install`
TIMEOUT_MS = 60_000  # generous: the suite runs while both cores are busy
START_TIMEOUT_S = 240.0  # importing corral alone takes half a minute on a loaded machine


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    """As ``tests.sdk_server.agent_server``, with more time to start: a test here restarts it mid-module."""
    tmp = tmp_path_factory.mktemp("console")
    with ScriptedModelServer({"replies": [reply(text("Nothing scripted."))]}) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5", "CORRAL_EGRESS": "0"}  # no egress needed
        server = LiveServer(f"sqlite:///{tmp / 'corral.db'}", tmp / "data", env, start_timeout=START_TIMEOUT_S)
        try:
            server.start()
            yield server, model
        finally:
            server.stop()


@pytest.fixture(scope="package")
def server(served: tuple[LiveServer, ScriptedModelServer]) -> LiveServer:
    return served[0]


@pytest.fixture(scope="package")
def model(served: tuple[LiveServer, ScriptedModelServer]) -> ScriptedModelServer:
    return served[1]


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} is missing: run script/setup (it installs Debian's chromium)")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    made = browser.new_context(base_url=server.base_url, viewport={"width": 1200, "height": 900})
    made.set_default_timeout(TIMEOUT_MS)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (created)."""
    chosen = os.environ.get("CORRAL_CONSOLE_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
