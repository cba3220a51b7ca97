"""Headless Chromium (Debian's package, driven by Playwright) against a real uvicorn server
on loopback with the built dashboard. Browser downloads are impossible here, so Playwright
runs the system's /usr/bin/chromium.

With STOCKQL_TEST_DASHBOARD_URL the tests drive that server instead of starting one: CI points
them at the server the README's first command started with no Node.js on PATH (.ci/run), so
they test what a new user gets."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Route,
    WebSocket,
    async_playwright,
)

from app.web import DASHBOARD_PAGE, DEFAULT_WEB_DIRECTORY, GRAPHIQL_PAGE
from tests.api.conftest import api_settings
from tests.support.server import running_server
from tests.support.services import services_required

CHROMIUM = Path(os.environ.get("STOCKQL_TEST_CHROMIUM", "/usr/bin/chromium"))
DASHBOARD_URL = os.environ.get("STOCKQL_TEST_DASHBOARD_URL", "").rstrip("/")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def require_browser_and_build() -> None:
    """Skip without Chromium or the web build (which a server of STOCKQL_TEST_DASHBOARD_URL
    has of its own); fail instead when STOCKQL_REQUIRE_SERVICES=1."""
    missing = [] if CHROMIUM.exists() else [f"{CHROMIUM} (apt-get install chromium)"]
    missing += [
        f"{DEFAULT_WEB_DIRECTORY / page} (uv sync --reinstall-package stockql, or make web)"
        for page in (DASHBOARD_PAGE, GRAPHIQL_PAGE)
        if not DASHBOARD_URL and not (DEFAULT_WEB_DIRECTORY / page).exists()
    ]
    if not missing:
        return
    message = "missing " + " and ".join(missing)
    if services_required():
        pytest.fail(message + " with STOCKQL_REQUIRE_SERVICES=1")
    pytest.skip(message)


@dataclass(frozen=True)
class DashboardServer:
    base_url: str


@pytest.fixture(scope="module")
async def dashboard_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[DashboardServer]:
    """The server of STOCKQL_TEST_DASHBOARD_URL, or one of our own on the embedded defaults
    (SQLite, in-process events) with the worker jobs in the server and the simulator ticking
    twice a second, so prices move and alerts fire."""
    require_browser_and_build()
    if DASHBOARD_URL:
        yield DashboardServer(DASHBOARD_URL)
        return
    database = tmp_path_factory.mktemp("dashboard") / "stockql.db"
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        worker_in_process=True,
        simulator_tick_seconds=0.5,
    )
    async with running_server(settings) as running:
        yield DashboardServer(running.base_url)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_browser_and_build()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class BrowserProblems:
    """What must never happen on our pages: console errors (CSP violations among them),
    uncaught exceptions, and any request leaving this machine."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    off_machine: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def websocket(self, socket: WebSocket) -> None:
        if urlsplit(socket.url).hostname not in LOOPBACK:
            self.off_machine.append(socket.url)

    async def keep_on_this_machine(self, route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).hostname in LOOPBACK:
            await route.continue_()
        else:
            self.off_machine.append(url)
            await route.abort()

    def assert_none(self) -> None:
        assert self.console_errors == [], "console errors"
        assert self.page_errors == [], "uncaught errors"
        assert self.off_machine == [], "requests to other hosts"


@dataclass
class BrowserTab:
    page: Page
    problems: BrowserProblems


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[BrowserTab]:
    """A fresh browser context (no storage) with one page whose problems are recorded."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    problems = BrowserProblems()
    await context.route("**/*", problems.keep_on_this_machine)
    page = await context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.on("websocket", problems.websocket)
    try:
        yield BrowserTab(page, problems)
    finally:
        await context.close()


def save_screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
