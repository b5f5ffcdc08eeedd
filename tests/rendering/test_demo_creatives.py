"""The shipped demo creatives, end to end: bundle -> sandboxed template -> letter PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.context import letter_context
from dispatch.creatives.sandbox import render
from dispatch.rendering import preflight, render_single_letter
from tests.rendering.helpers import NOTICE_FI, NOTICE_SV, make_recipient, pdf_text, window_lines

CREATIVES = Path(__file__).resolve().parents[2] / "templates" / "creatives"
NAME = ("Maria-Kristiina", "Åkerström-Šimonović-Väänänen")


@pytest.mark.parametrize("language", ["fi", "sv"])
@pytest.mark.parametrize("creative", ["coop-bicycles", "nordic-air-spring"])
def test_demo_creative_prints_as_a_letter(creative: str, language: str) -> None:
    bundle = load_bundle(CREATIVES / creative)
    source = bundle.template("letter.html.j2")
    assert source is not None
    context = letter_context(language, bundle.manifest.texts(language), "Prisma Kannelmäki")
    body = render(source, context, name="letter.html.j2")
    recipient = make_recipient(first_name=NAME[0], last_name=NAME[1], language=language)
    pdf = render_single_letter(
        body, bundle.files, recipient, fields={"home_store": "Prisma Kannelmäki"}
    )
    assert preflight(pdf) == []
    assert window_lines(pdf)[0] == " ".join(NAME)
    text = " ".join(pdf_text(pdf).split())
    assert (NOTICE_FI if language == "fi" else NOTICE_SV) in text
    assert f"{NAME[0]}," in text  # the greeting, punctuation kept beside the name
    assert "Prisma Kannelmäki" in text  # the home store, stamped like the name
