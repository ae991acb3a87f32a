"""Open a page in headless Chromium (Debian's, through Playwright) with no network at all."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (scripts/ensure-chromium installs it)")
    return path


@dataclass
class Visit:
    console_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)  # every request that was not for the file
    counts: dict[str, int] = field(default_factory=dict)


def visit(page_file: Path, selectors: dict[str, str], screenshot: Path | None = None) -> Visit:
    """Load ``page_file``, count the elements matching each selector, optionally photograph it."""
    from playwright.sync_api import sync_playwright

    seen = Visit()
    url = page_file.resolve().as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console",
                lambda m: seen.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: seen.console_errors.append(str(e)))

            def route(r):  # type: ignore[no-untyped-def]
                if r.request.url == url:
                    r.continue_()
                else:
                    seen.network.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load")
            first = next(iter(selectors.values()))
            page.wait_for_selector(first, timeout=30_000)
            seen.counts = {name: page.locator(css).count() for name, css in selectors.items()}
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen
