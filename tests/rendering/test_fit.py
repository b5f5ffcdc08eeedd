"""Personal text in its box: shrink first, then wrap once, never clip."""

from __future__ import annotations

import pytest

from dispatch.rendering import TextDoesNotFit, UnsupportedCharacter
from dispatch.rendering.fit import STEP, fit_lines
from dispatch.rendering.fonts import stamp_font

FONT = stamp_font("regular")
LONG_NAME = "Maria-Kristiina Åkerström-Šimonović-Väänänen"


def width_pt(text: str, size: float) -> float:
    return FONT.width(text) * size / 1000


def test_text_that_fits_keeps_its_size() -> None:
    fitted = fit_lines(["Maria Virtanen"], FONT, width=200, height=20, size=10, min_size=8)
    assert fitted.size == 10
    assert fitted.lines == ("Maria Virtanen",)


def test_long_text_shrinks_to_the_largest_size_that_fits() -> None:
    width = width_pt(LONG_NAME, 10) * 0.9  # needs about 9 pt
    fitted = fit_lines([LONG_NAME], FONT, width=width, height=20, size=10, min_size=8)
    assert fitted.lines == (LONG_NAME,)
    assert 8 <= fitted.size < 10
    assert width_pt(LONG_NAME, fitted.size) <= width
    assert width_pt(LONG_NAME, fitted.size + STEP) > width


def test_text_too_long_at_the_minimum_size_wraps_at_a_balanced_break() -> None:
    width = width_pt(LONG_NAME, 8) * 0.7
    fitted = fit_lines([LONG_NAME], FONT, width=width, height=40, size=10, min_size=8)
    assert len(fitted.lines) == 2
    assert "".join(fitted.lines).replace(" ", "") == LONG_NAME.replace(" ", "")
    assert all(width_pt(line, fitted.size) <= width for line in fitted.lines)


def test_all_lines_share_one_size_and_fit_the_height() -> None:
    lines = ["Maria Virtanen", "c/o Anna Virtanen", "Mannerheimintie 12 B 7", "00100 HELSINKI"]
    fitted = fit_lines(lines, FONT, width=200, height=4 * 1.2 * 9, size=10, min_size=8)
    assert fitted.size == 9
    assert fitted.lines == tuple(lines)


def test_text_that_cannot_fit_raises_without_quoting_it() -> None:
    name = "Åkerström" * 20  # no space or hyphen to break at
    with pytest.raises(TextDoesNotFit) as caught:
        fit_lines([name], FONT, width=150, height=30, size=10, min_size=8, what="address")
    assert "Åkerström" not in str(caught.value)
    assert caught.value.where == "address"


def test_fitting_is_deterministic() -> None:
    args = {"width": 120.0, "height": 40.0, "size": 10.0, "min_size": 8.0}
    assert fit_lines([LONG_NAME], FONT, **args) == fit_lines([LONG_NAME], FONT, **args)


def test_characters_outside_the_font_raise_naming_the_code_point() -> None:
    with pytest.raises(UnsupportedCharacter, match="U\\+1F600"):
        fit_lines(["Maria \U0001f600"], FONT, width=200, height=20, size=10, min_size=8)


def test_every_latin_1_and_extended_a_letter_is_printable() -> None:
    letters = [chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha()]
    assert FONT.encode("".join(letters))
