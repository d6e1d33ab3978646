"""A real headless Chromium for page tests (Playwright driving Debian's chromium), as a pytest plugin.

Tests that take `page` (or `chromium`) are skipped when chromium is not installed. Set
ARAGORA_SCREENSHOTS=docs/screenshots to (re)write the README's screenshots there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium")
ROOT = Path(__file__).resolve().parent.parent
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000  # a busy 2-core machine can take seconds per page


@pytest.fixture(scope="session")
def chromium():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport=LAPTOP, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page, as a person would."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def fits_the_width(page) -> bool:
    """Return True when nothing makes the page itself scroll sideways (tables may scroll inside their box)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def too_wide(page) -> list[str]:
    """Name the elements that reach past the window's right edge (for a failing width check)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(e => !e.closest('.table-scroll'))
            .slice(0, 8)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)"""
    )


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot as <name>.png in ARAGORA_SCREENSHOTS, when that is set."""
    folder = os.environ.get("ARAGORA_SCREENSHOTS")
    if folder:
        path = ROOT / folder
        path.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path / f"{name}.png"), full_page=True)


def at_widths(page, path: str, name: str | None = None) -> None:
    """Show `path` at phone and laptop width: it must fit both (and is photographed when asked)."""
    for label, size in (("390", PHONE), ("1280", LAPTOP)):
        page.set_viewport_size(size)
        page.goto(path)
        page.wait_for_load_state()
        assert fits_the_width(page), f"{path} overflows at {label} px: {too_wide(page)}"
        if name:
            screenshot(page, f"{name}-{label}")
    page.set_viewport_size(LAPTOP)
