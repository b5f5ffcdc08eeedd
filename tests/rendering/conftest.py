"""Fixtures for the rendering tests: variants laid out once per session.

WeasyPrint takes a fraction of a second per layout, so the common variants are laid
out once and shared; every test that needs another body lays it out itself.
"""

from __future__ import annotations

import pytest

from dispatch.rendering import Variant, render_variant
from tests.rendering.helpers import GREETING_BODY, GREETING_BODY_SV


@pytest.fixture(scope="session")
def fi_variant() -> Variant:
    return render_variant(GREETING_BODY, {}, language="fi")


@pytest.fixture(scope="session")
def sv_variant() -> Variant:
    return render_variant(GREETING_BODY_SV, {}, language="sv")
