"""Browser tests: a real server, `keyun web` as its own process, and Debian's Chromium headless.

Playwright drives /usr/bin/chromium (the Makefile installs it); it never downloads a browser.
Without Chromium the browser tests skip and say why, except in CI, where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Chromium's own network chatter (updates, sync, QUIC) is refused on a closed network; the probe
# of this machine found these flags keep it quiet.  --no-sandbox: CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
FULL_HD = {"width": 1920, "height": 1080}
WEB_START_S = 30


@dataclass
class WebProcess:
    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_web(server_target: str, cookie_key: Path, *extra: str) -> WebProcess:
    """`keyun web` on a free port against `server_target`; waits for its listening line."""
    command = [sys.executable, "-m", "keyun.terminals.web.cli", "--server", server_target, "--port", "0"]
    command += ["--cookie-key", str(cookie_key), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()  # the process prints it once it listens, or exits
    if not line.startswith("keyun web on "):
        process.kill()
        raise RuntimeError(f"keyun web did not start: {line!r}")
    return WebProcess(process, line.removeprefix("keyun web on ").split(" ")[0].rstrip("/"))


@pytest.fixture(scope="module")
def web(keyun, tmp_path_factory) -> Iterator[WebProcess]:
    process = start_web(keyun.target, tmp_path_factory.mktemp("web") / "cookie.key")
    yield process
    process.stop()


# Per module, not per session: while Playwright's sync API runs, this thread has an event loop,
# and a later test's asyncio.run would fail.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("no /usr/bin/chromium in CI: `make test` installs it (make browser)")
        pytest.skip("no /usr/bin/chromium: `apt-get install chromium` (make browser) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies from another test) at phone size."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> None:
    """Save the page at phone and 1080p sizes as docs/screenshots/NAME-phone.png and -1080p.png
    (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, suffix in ((PHONE, "phone"), (FULL_HD, "1080p")):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{suffix}.png"), full_page=suffix == "phone")
    page.set_viewport_size(before)
