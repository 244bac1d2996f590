"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright (never a
downloaded browser). When it or Playwright is missing the test skips with the reason, or fails
under TS_REQUIRE_SERVICES=1 (`.ci/run`), like the other tests that need this machine's services."""
from __future__ import annotations

import importlib.util
import threading
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from werkzeug.serving import make_server

from support.infra import unavailable

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium() -> Iterator:
    """A Playwright browser, closed afterwards."""
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (/usr/bin/chromium; `apt-get install chromium`): "
                    "the browser test is skipped")
    if importlib.util.find_spec("playwright") is None:
        unavailable("the playwright package is not installed (`pip install -e '.[test]'`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def csp_errors_of(page) -> list[str]:
    """The Content Security Policy refusals the page reports from now on (kept in the list)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    return errors


@contextmanager
def served(app) -> Iterator[str]:
    """`app` on a free local port, over real HTTP; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
