"""Steps a person takes in the browser: sign in (with the second factor for staff)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyotp

from tests.web.conftest import PASSWORD

Page = Any  # playwright.sync_api.Page (Playwright's types are imported lazily)
#: The second-factor secrets staff enrolled in this test run, by user name.
SECRETS: dict[str, str] = {}


def sign_in(page: Page, base: str, username: str, shots: Path | None = None) -> None:
    """Sign in as ``username``; staff enrol a second factor from the page's key."""
    page.goto(f"{base}/login")
    if shots is not None:
        page.screenshot(path=str(shots / "login.png"), full_page=True)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/login/totp/setup" in page.url:
        if shots is not None:
            page.screenshot(path=str(shots / f"totp-setup-{username}.png"), full_page=True)
        secret = page.inner_text("code.secret").strip()
        SECRETS[username] = secret
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        page.wait_for_load_state()
    elif "/login/totp" in page.url:
        # A code works once: a second sign-in in the same 30 s uses the next one,
        # which the service accepts as one step of clock drift.
        totp = pyotp.TOTP(SECRETS[username])
        for code in (totp.now(), totp.at(time.time() + 30)):
            page.fill("input[name=code]", code)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            if "/login" not in page.url:
                break
    assert "/login" not in page.url, f"{username} could not sign in: {page.url}"


def sign_out(page: Page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_load_state()
