"""End-to-end fixtures for the web client: a real gateway, real headless Chromium pages, real drawings.

The gateway (``server.app.running_server``, the production wiring with the real model) runs on its own
event loop in a thread, so Selenium's blocking calls and the server do not share a loop. Each page is
its own Chromium process with a fresh profile, so each has its own sessionStorage (its own player), and
none is a throttled background tab.

The browser is Debian's ``chromium`` with its matching ``chromedriver`` (``scripts/install-browser.sh``);
nothing is downloaded at test time. The tests skip, saying why, only when that browser is missing and
cannot be installed. Screenshots go to a temporary folder, or to ``DOODLE_SCREENSHOT_DIR`` when set
(``DOODLE_SCREENSHOT_DIR=docs/screenshots`` refreshes the ones the docs show).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.formats import DrawingRecord, read_ndjson
from server.app import running_server
from server.config import Settings
from server.redis_embedded import EmbeddedRedis
from tests.conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-browser.sh"
# Flags that work as root in a closed network: no sandbox (root), no GPU, nothing phoning home.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
)
WAIT_SECONDS = 15.0


def _browser_missing_reason() -> str | None:
    """None when chromium and chromedriver are there (installing them first if we can)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} / {CHROMEDRIVER} missing and apt-get is not available to install them"
    try:
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"chromium could not be installed: {exc}"
    if done.returncode != 0 or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        return f"chromium could not be installed by {INSTALL_SCRIPT.name}: {' | '.join(tail)}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary; skips the web tests only when it is missing and cannot be installed."""
    reason = _browser_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    return CHROMIUM


# ---------------------------------------------------------------------------------------------------
# The server, on its own loop in a thread


@dataclass
class LiveServer:
    """A running gateway: ``http_url`` serves the web client, ``ws_url`` the protocol."""

    port: int
    settings: Settings

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class ServerThread:
    """Runs ``running_server(settings)`` until :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.server: LiveServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="doodle-party-e2e-server", daemon=True)

    def start(self, timeout: float = 60.0) -> LiveServer:
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("the gateway did not start in time")
        if self.failure is not None or self.server is None:
            raise RuntimeError("the gateway failed to start") from self.failure
        return self.server

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread by start()
            self.failure = exc
            self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_server(self.settings) as running:
            self.server = LiveServer(running.port, self.settings)
            self.ready.set()
            await self._stop.wait()


@pytest.fixture(scope="module")
def redis_for_web() -> Iterator[EmbeddedRedis]:
    """A real redis-server for this module's gateway."""
    with EmbeddedRedis() as redis_server:
        yield redis_server


def web_settings(redis_url: str, port: int = 0) -> Settings:
    """A gateway's settings for browser tests: every page and phone comes from loopback, one address,
    so the per-address room look-up and creation limits are lifted, as for the bots (docs/bots.md);
    tests/server/test_abuse_limits.py tests the limits themselves."""
    return Settings(port=port, redis_url=redis_url, join_attempts_per_minute=10_000, rooms_per_minute=10_000)


@pytest.fixture(scope="module")
def live_server(redis_for_web: EmbeddedRedis, chromium: Path) -> Iterator[LiveServer]:
    """A real gateway with the real model on a free port."""
    thread = ServerThread(web_settings(redis_for_web.url))
    server = thread.start()
    try:
        yield server
    finally:
        thread.stop()


@pytest.fixture
def start_server(redis_for_web: EmbeddedRedis) -> Iterator[Callable[[int], ServerThread]]:
    """Start extra gateways (e.g. one to stop mid-test); each is stopped at teardown."""
    threads: list[ServerThread] = []

    def start(port: int = 0) -> ServerThread:
        thread = ServerThread(web_settings(redis_for_web.url, port))
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.stop()


# ---------------------------------------------------------------------------------------------------
# Pages


class Page:
    """One browser tab driven by Selenium, with the few helpers the tests need."""

    def __init__(self, driver: Any, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots

    def open(self, path: str = "") -> Page:
        self.driver.get(self.base_url + path)
        self.wait("window.doodleParty !== undefined", "the app to load")
        return self

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, expression: str, what: str, timeout: float = WAIT_SECONDS) -> Any:
        """Wait until a JavaScript expression is truthy; return its value."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
                lambda driver: driver.execute_script(
                    f"try {{ return ({expression}); }} catch (e) {{ return null; }}"
                )
            )
        except TimeoutException:
            state = self.js(
                "const a = window.doodleParty && window.doodleParty.app;"
                "return JSON.stringify({view: a && a.view, phase: a && a.room && a.room.phase,"
                " banner: document.querySelector('#banner-text')?.textContent,"
                " error: document.querySelector('#home-error')?.textContent});"
            )
            raise AssertionError(f"timed out waiting for {what}: {expression} (page state {state})") from None

    def find(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        return str(self.js("return document.querySelector(arguments[0])?.textContent ?? ''", selector))

    def visible(self, selector: str) -> bool:
        return bool(
            self.js(
                "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null",
                selector,
            )
        )

    def fill(self, selector: str, value: str) -> None:
        element = self.find(selector)
        element.clear()
        element.send_keys(value)

    def click(self, selector: str) -> None:
        self.find(selector).click()

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def draw(self, selector: str, strokes: list[np.ndarray], kind: str = "mouse", move_ms: int = 12) -> None:
        """Draw strokes given in Google's 0..255 square on a canvas, with real pointer input.

        Each stroke becomes pointer down, moves, pointer up of a ``mouse``, ``pen`` or ``touch``
        pointer (WebDriver actions: the page receives trusted pointer events).
        """
        from selenium.webdriver.common.actions import interaction
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput

        left, top, width, height = self.js(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return [r.left, r.top, r.width, r.height];",
            selector,
        )
        kinds = {
            "mouse": interaction.POINTER_MOUSE,
            "pen": interaction.POINTER_PEN,
            "touch": interaction.POINTER_TOUCH,
        }
        pointer = PointerInput(kinds[kind], f"{kind}-pointer")
        actions = ActionBuilder(self.driver, mouse=pointer, duration=move_ms)
        # The drawing fills the middle 80% of the canvas, as a person would draw it.
        scale = 0.8 * min(width, height) / 255.0

        def at(point: np.ndarray) -> tuple[int, int]:
            return round(left + 0.1 * width + point[0] * scale), round(top + 0.1 * height + point[1] * scale)

        for stroke in strokes:
            x, y = at(stroke[0])
            actions.pointer_action.move_to_location(x, y)
            actions.pointer_action.pointer_down()
            for point in stroke[1:]:
                x, y = at(point)
                actions.pointer_action.move_to_location(x, y)
            actions.pointer_action.pointer_up()
        actions.perform()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: DOODLE_SCREENSHOT_DIR (e.g. docs/screenshots), else a temporary folder."""
    configured = os.environ.get("DOODLE_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    if not folder.is_absolute():
        folder = REPO_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class BrowserPool:
    """Headless Chromium processes, started once and reused: a test gets a fresh tab in one.

    A fresh tab has empty sessionStorage (a new player); localStorage only remembers a name. Each
    page's viewport (CSS size, device pixel ratio, mobile) is set with DevTools device emulation.
    """

    def __init__(self, chromium: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._webdriver = webdriver
        self._service = Service
        self.chromium = chromium
        self.idle: list[Any] = []
        self.drivers: list[Any] = []
        self.profiles: list[str] = []

    def take(self) -> Any:
        if self.idle:
            return self.idle.pop()
        options = self._webdriver.ChromeOptions()
        options.binary_location = str(self.chromium)
        profile = tempfile.mkdtemp(prefix="doodle-chromium-")
        self.profiles.append(profile)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1100"):
            options.add_argument(flag)
        # Selenium Manager would try to download a driver; Debian's matches Debian's chromium.
        driver = self._webdriver.Chrome(service=self._service(str(CHROMEDRIVER)), options=options)
        self.drivers.append(driver)
        return driver

    def give_back(self, driver: Any) -> None:
        try:
            driver.execute_script("try { localStorage.clear(); } catch (e) {}")
            old = driver.current_window_handle
            driver.switch_to.new_window("tab")
            fresh = driver.current_window_handle
            driver.switch_to.window(old)
            driver.close()  # its socket closes with it
            driver.switch_to.window(fresh)
        except Exception:  # a browser that broke is not reused
            driver.quit()
            self.drivers.remove(driver)
            return
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE" and "WebSocket" not in entry.get("message", ""):
                print("browser console:", entry.get("message"))
        self.idle.append(driver)

    def close(self) -> None:
        for driver in self.drivers:
            driver.quit()
        for profile in self.profiles:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_pool(chromium: Path, live_server: LiveServer) -> Iterator[BrowserPool]:
    """Chromium processes shared by a module's tests (starting one costs over a second).

    It depends on ``live_server`` so that the browsers quit first: a browser keeps idle preconnected
    sockets, and the gateway's shutdown waits for those to time out.
    """
    try:
        pool = BrowserPool(chromium)
    except ImportError:  # the dev extra is not installed: that is a set-up bug, not a reason to skip
        pytest.fail("the web tests need the selenium package (pip install -e '.[dev]')")
    yield pool
    pool.close()


@pytest.fixture
def open_page(
    browser_pool: BrowserPool, live_server: LiveServer, screenshot_dir: Path
) -> Iterator[Callable[..., Page]]:
    """Open pages on the live server: ``open_page(width, height, scale=1, base_url=None)``.

    Sizes are CSS pixels of the viewport; below 600 px wide the page is emulated as a phone.
    """
    taken: list[Any] = []

    def open_one(
        width: int = 1280, height: int = 800, scale: float = 1.0, base_url: str | None = None
    ) -> Page:
        driver = browser_pool.take()
        taken.append(driver)
        metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": width < 600}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        return Page(driver, base_url or live_server.http_url, screenshot_dir)

    yield open_one
    for driver in taken:
        browser_pool.give_back(driver)


# ---------------------------------------------------------------------------------------------------
# Real drawings


@pytest.fixture(scope="session")
def apple_drawings(quickdraw_dir: Path) -> list[DrawingRecord]:
    """Real Quick, Draw! apples that the real model recognizes confidently when drawn on our canvas."""
    from inference.recognizer import Recognizer

    recognizer = Recognizer.load(None)
    apple = recognizer.labels.index("apple")
    records = [
        record
        for _, record in zip(
            range(40), read_ndjson(quickdraw_dir / "simplified" / "apple.ndjson.gz"), strict=False
        )
    ]
    # As the page will send them: 0..255 mapped into the middle of a 1000-unit canvas.
    drawn = [[np.asarray(s, dtype=np.float64)[:, :2] * (800 / 255) + 100 for s in r.strokes] for r in records]
    probabilities = recognizer.predict_strokes(drawn, [(1000.0, 1000.0)] * len(drawn))
    confident = [
        record
        for record, row in zip(records, probabilities, strict=True)
        if row.argmax() == apple and row[apple] > 0.9
    ]
    assert len(confident) >= 3, "fewer than 3 of the first 40 apples are recognized: is the model right?"
    return confident
