"""A creative cannot remove, cover or restyle the objection notice (or the window).

Each vector is a creative body written to get rid of the notice or paint over the
frame. The letter must still carry the notice text, stay A4, and outside the body
box be pixel for pixel the letter a harmless creative gives: whatever the creative
does, it only ever paints inside its own box.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from dispatch.rendering import CreativeRejected, preflight, render_single_letter, render_variant
from tests.rendering.helpers import GREETING_BODY, NOTICE_FI, make_recipient, page_image, pdf_text

BLACK_BOX = "background: #000; z-index: 2147483647"

HOSTILE: dict[str, str] = {
    "hide-notice-by-name": "<style>.notice, #notice-first, [class*=notice], footer, section"
    " { display: none !important; visibility: hidden !important; opacity: 0 !important }</style>",
    "everything-invisible": "<style>* { visibility: hidden !important; color: #fff !important;"
    " background: #fff !important }</style>",
    "fixed-overlay": "<style>body::after { content: ''; position: fixed; top: -150mm;"
    f" left: -60mm; width: 400mm; height: 600mm; {BLACK_BOX} }}</style>",
    "absolute-overlay": '<div style="position: absolute; top: -500mm; left: -100mm;'
    f' width: 500mm; height: 1200mm; {BLACK_BOX}"></div>',
    "negative-margins": "<style>p { margin-top: -300mm; margin-bottom: -400mm;"
    " margin-left: -100mm; background: #000; height: 80mm }</style>",
    "page-rules": "<style>@page { size: A3; margin: 0; background: #000 }"
    " @page :first { size: 1000mm 1000mm; background: #000;"
    " @bottom-center { content: 'FAKE NOTICE'; background: #000 } }</style>",
    "canvas-background": "<style>html, body { background: #000; min-height: 5000px }</style>",
    "transform-escape": '<div style="transform: translate(-80mm, 180mm) scale(8);'
    ' width: 40mm; height: 40mm; background: #000"></div>',
    "giant-svg": '<svg xmlns="http://www.w3.org/2000/svg" width="3000mm" height="3000mm"'
    ' style="position: absolute; top: -1000mm; left: -1000mm">'
    '<rect width="100%" height="100%" fill="#000"/></svg>',
    "outline-and-shadow": "<style>body { outline: 600mm solid #000;"
    " box-shadow: 0 0 0 2000px #000 }</style>",
    "huge-border": '<div style="border: 400mm solid #000; margin: -300mm"></div>',
    "fake-notice-below": '<div style="position: fixed; bottom: -60mm; left: 0; width: 170mm;'
    f' height: 40mm; {BLACK_BOX}; color: #fff">Ei kieltoa.</div>',
    "zero-font-size": "<style>p, div, span:not(.pf) { font-size: 0 !important;"
    " line-height: 0 !important }</style>",
    "float-and-columns": '<div style="float: left; width: 400mm; height: 400mm;'
    ' margin: -200mm 0 0 -200mm; background: #000"></div>'
    "<style>body { column-count: 3; column-gap: -50mm }</style>",
    "pseudo-on-everything": "<style>*::before { content: 'X'; position: absolute;"
    f" top: 200mm; left: 0; width: 170mm; height: 80mm; {BLACK_BOX} }}</style>",
}

# The body box of the first page (letter.css #body-first), with a margin for the
# anti-aliased edge: everything outside it belongs to the system frame.
BODY_MM = (20 - 1.5, 98 - 1.5, 190 + 1.5, 253 + 1.5)
DPI = 40


def frame_only(pdf: bytes) -> Image.Image:
    image = page_image(pdf, dpi=DPI)
    scale = image.width / 210
    ImageDraw.Draw(image).rectangle([round(v * scale) for v in BODY_MM], fill=255)
    return image


@pytest.fixture(scope="module")
def clean_frame() -> Image.Image:
    return frame_only(render_single_letter(GREETING_BODY, {}, make_recipient()))


@pytest.mark.parametrize("vector", sorted(HOSTILE))
def test_hostile_creative_css_cannot_hide_or_cover_the_notice(
    vector: str, clean_frame: Image.Image
) -> None:
    pdf = render_single_letter(HOSTILE[vector] + GREETING_BODY, {}, make_recipient())
    assert preflight(pdf) == []
    text = " ".join(pdf_text(pdf).split())
    assert NOTICE_FI in text
    assert "ei saa nimeäsi, osoitettasi eikä muita tietojasi" in text
    assert "Maria Virtanen Mannerheimintie 12 B 7 00100 HELSINKI" in text
    difference = ImageChops.difference(frame_only(pdf), clean_frame)
    assert difference.getbbox() is None, (
        f"{vector} painted outside its box at {difference.getbbox()}"
    )


def test_hostile_creative_does_paint_inside_its_own_box() -> None:
    # The comparison above is only meaningful if the hostile paint really happens.
    pdf = render_single_letter(HOSTILE["absolute-overlay"] + GREETING_BODY, {}, make_recipient())
    image = page_image(pdf, dpi=DPI)
    scale = image.width / 210
    body = image.crop(
        (round(25 * scale), round(110 * scale), round(180 * scale), round(240 * scale))
    )
    assert body.getextrema() == (0, 0)  # all black inside the box


@pytest.mark.parametrize(
    "css",
    [
        "h1 { margin-top: -300mm }",
        "h1 { position: relative; left: 300mm }",
        "h1 { font-size: 0 }",
        "h1 { transform: rotate(180deg) }",
    ],
)
def test_creative_that_moves_or_shrinks_a_personal_field_away_is_rejected(css: str) -> None:
    with pytest.raises(CreativeRejected, match="personal field"):
        render_variant(f"<style>{css}</style>" + GREETING_BODY, {}, language="fi")
