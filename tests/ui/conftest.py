"""The UI's fixtures: the daemon as a subprocess (SQLite, in-process bus: `make run`'s
defaults), an API client for arranging state, and a page in Debian's headless Chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.integration.conftest import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.ui

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
API_KEY = "c0ffee" * 10 + "c0de"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
JSON_HEADERS = {"Content-Type": "application/json"}
#: flags that keep a headless Chromium in a container quiet and offline
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _bin() -> str:
    return str(Path(sys.executable).with_name("webhooksd"))


@dataclass
class UiDaemon:
    """A running ``webhooksd run`` and its master account."""

    url: str
    account_id: str
    token: str
    http: aiohttp.ClientSession
    db_path: Path

    async def api(self, method: str, path: str, data: Any = None) -> dict[str, Any]:
        """A /v2 request as the master account; raises on anything but success."""
        body = None if data is None else orjson.dumps({"data": data})
        async with self.http.request(
            method,
            f"{self.url}/v2{path}",
            data=body,
            headers={"X-Auth-Token": self.token, **JSON_HEADERS},
        ) as response:
            reply: dict[str, Any] = orjson.loads(await response.read())
        assert reply.get("status") == "success", reply
        return reply

    async def publish_channel_create(self, account_id: str, call_id: str) -> None:
        """A Kazoo CHANNEL_CREATE on the in-process bus, through the master's publish route."""
        from tests.integration.kazoo_events import channel_create

        routing_key, payload = channel_create(account_id, call_id)
        await self.api(
            "POST",
            "/bus/publish",
            {"exchange": "callevt", "routing_key": routing_key, "payload": payload},
        )


@pytest.fixture(name="daemon_env")
def _daemon_env() -> dict[str, str]:
    """Settings a test adds to the daemon's environment (override with
    ``@pytest.mark.parametrize("daemon_env", [{...}])``)."""
    return {}


@pytest.fixture(name="ui_daemon")
async def _ui_daemon(tmp_path: Path, daemon_env: dict[str, str]) -> AsyncIterator[UiDaemon]:
    port = free_port()
    db_path = tmp_path / "webhooksd.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKSD_")}
    env.update(
        WEBHOOKSD_STORE_URL=f"sqlite:///{db_path}",
        WEBHOOKSD_AMQP_URL="memory://",
        WEBHOOKSD_API_LISTEN=f"127.0.0.1:{port}",
        # the test's receiver listens on loopback, which the SSRF guard refuses by default
        WEBHOOKSD_ALLOW_PRIVATE_TARGETS="true",
        # auto-disable within seconds: six failures in a 4 s window, checked every second
        WEBHOOKSD_ATTEMPT_FAILURE_EXPIRY_MS="4000",
        WEBHOOKSD_BREAKER_COOLDOWN_MS="500",
        WEBHOOKSD_LOG_FORMAT="json",
    )
    env.update(daemon_env)
    boot = await asyncio.create_subprocess_exec(
        _bin(), "bootstrap", "--api-key", API_KEY, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await boot.communicate()
    assert boot.returncode == 0, out
    account_id = orjson.loads(out.decode().strip().splitlines()[-1])["account_id"]
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            _bin(), "run", env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                assert process.returncode is None, log_path.read_text()
                try:
                    async with http.get(f"{url}/readyz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, timeout=30, what="the daemon's /readyz answering 200")
            async with http.put(
                f"{url}/v2/api_auth",
                data=orjson.dumps({"data": {"api_key": API_KEY}}),
                headers=JSON_HEADERS,
            ) as response:
                auth = await response.read()
                assert response.status < 300, (response.status, auth, log_path.read_text())
                token = orjson.loads(auth)["auth_token"]
            yield UiDaemon(url, account_id, token, http, db_path)
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture(name="browser", scope="session")
def _browser_path() -> Iterator[str]:
    """Debian's Chromium; a test machine without it skips, CI (which installs it) fails."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    yield CHROMIUM


@dataclass
class Console:
    """What the page logged: errors fail the test unless it expects them."""

    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@dataclass
class UiPage:
    page: Page
    console: Console
    shots: Path

    async def screenshot(self, name: str, *, full_page: bool = True) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full_page)


@asynccontextmanager
async def _launch(path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(name="ui")
async def _ui(browser: str, ui_daemon: UiDaemon, tmp_path: Path) -> AsyncIterator[UiPage]:
    """A 1280x800 page on the daemon's UI (screenshots go to docs/screenshots/ when
    WEBHOOKSD_UI_SCREENSHOTS=1, as `make screenshots` sets, else to the test's tmp dir)."""
    shots = SCREENSHOTS if os.environ.get("WEBHOOKSD_UI_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    async with _launch(browser) as chromium:
        context = await chromium.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        page.set_default_timeout(10_000)
        console = Console()
        page.on("console", console.record)
        page.on("pageerror", lambda exc: console.errors.append(f"page error: {exc}"))
        await page.goto(ui_daemon.url + "/")
        yield UiPage(page, console, shots)
        await context.close()
    # a test that provokes errors on purpose clears them once it has checked them
    assert console.errors == [], console.errors
