"""The printed letter: window geometry, notice, fonts, preflight, what it looks like."""

from __future__ import annotations

import io

import pytest

from dispatch.rendering import (
    DEMO_SENDER,
    SenderInfo,
    Variant,
    preflight,
    render_single_letter,
    render_variant,
    write_batch,
)
from tests.rendering.helpers import (
    GREETING_BODY,
    GREETING_BODY_SV,
    NOTICE_FI,
    NOTICE_SV,
    crop_mm,
    dark_pixels,
    font_names,
    make_recipient,
    page_image,
    pdf_text,
    word_boxes,
)


def one_letter(variant: Variant, **overrides: str | None) -> bytes:
    out = io.BytesIO()
    recipient = make_recipient(language=variant.language, **overrides)
    write_batch({"v": variant}, [("v", recipient)], out)
    return out.getvalue()


def test_address_lies_in_the_din_5008_window(fi_variant: Variant) -> None:
    pdf = one_letter(
        fi_variant, address_extra="c/o Anna Virtanen", postcode="02700", post_town="Kauniainen"
    )
    address_words = {"Maria", "Virtanen", "c/o", "Anna", "Mannerheimintie", "12", "B", "7"}
    address_words |= {"02700", "KAUNIAINEN"}
    # Everywhere above the body (the greeting repeats the first name further down).
    words = [w for w in word_boxes(pdf) if w[0] in address_words and w[2] < 95]
    assert {w[0] for w in words} == address_words
    for _, x0, y0, x1, y1 in words:
        # 20 mm from the left, 45 mm from the top, 85 x 45 mm.
        assert x0 >= 20 and x1 <= 105, (x0, x1)
        assert y0 >= 45 and y1 <= 90, (y0, y1)


def test_return_address_line_is_small_at_the_top_of_the_window(fi_variant: Variant) -> None:
    pdf = one_letter(fi_variant)
    words = word_boxes(pdf)
    ret = [w for w in words if w[0] == "PL" and w[2] < 100]
    name = next(w for w in words if w[0] == "Virtanen")
    assert ret, "return address missing"
    _, x0, y0, x1, y1 = ret[0]
    assert x0 >= 20 and x1 <= 105 and y0 >= 45 and y1 <= 52
    assert (y1 - y0) < (name[4] - name[2])  # smaller type than the address


def test_address_lines_print_in_postal_order(fi_variant: Variant) -> None:
    pdf = one_letter(
        fi_variant, address_extra="c/o Anna Virtanen", post_town="Espoo", postcode="02100"
    )
    text = pdf_text(pdf)
    expected = "Maria Virtanen\nc/o Anna Virtanen\nMannerheimintie 12 B 7\n02100 ESPOO"
    assert expected in text


@pytest.mark.parametrize(
    ("body", "language", "notice", "not_notice"),
    [
        (GREETING_BODY, "fi", NOTICE_FI, NOTICE_SV),
        (GREETING_BODY_SV, "sv", NOTICE_SV, NOTICE_FI),
    ],
)
def test_objection_notice_is_in_the_members_language(
    body: str, language: str, notice: str, not_notice: str
) -> None:
    pdf = render_single_letter(body, {}, make_recipient(language=language))
    text = " ".join(pdf_text(pdf).split())
    assert notice in text
    assert not_notice not in text
    assert "010 123 4567" in text and DEMO_SENDER.web in text
    # ... and that the partner does not get the member's details.
    assert ("ei saa nimeäsi" if language == "fi" else "får inte ditt namn") in text
    words = word_boxes(pdf)
    first_word = notice.split()[0].rstrip(".")
    notice_words = [w for w in words if w[0].rstrip(".") == first_word]
    assert notice_words and all(w[2] >= 255 for w in notice_words)  # at the bottom


def test_sender_and_partner_appear_in_sender_block_and_notice() -> None:
    sender = SenderInfo(
        name="Osuuskauppa Pohjola",
        street="PL 7",
        postcode="90101",
        post_town="Oulu",
        phone="08 555 1234",
        web="pohjola.example/kielto",
        partner="Lentoyhtiö Oy",
    )
    pdf = render_single_letter(GREETING_BODY, {}, make_recipient(), sender=sender)
    text = " ".join(pdf_text(pdf).split())
    assert "Osuuskauppa Pohjola, PL 7, 90101 OULU" in text
    assert "Yhteistyössä: Lentoyhtiö Oy" in text
    assert "Lentoyhtiö Oy ei saa nimeäsi" in text
    assert "08 555 1234" in text and "pohjola.example/kielto" in text


def test_letter_passes_preflight(fi_variant: Variant) -> None:
    assert preflight(one_letter(fi_variant)) == []


def test_every_font_is_embedded_and_shipped(fi_variant: Variant) -> None:
    fonts = font_names(one_letter(fi_variant))
    assert fonts
    assert all(embedded for _, embedded in fonts)
    assert all("NotoSans" in name.replace("-", "") for name, _ in fonts), fonts


def test_creative_cannot_pull_in_a_system_font() -> None:
    body = (
        "<style>@font-face { font-family: Sys; src: local('DejaVu Sans'), local('DejaVuSans') }"
        " h1 { font-family: Sys, 'DejaVu Serif', serif } p { font-family: monospace }</style>"
        + GREETING_BODY
    )
    pdf = render_single_letter(body, {}, make_recipient())
    names = [name for name, _ in font_names(pdf)]
    assert all("NotoSans" in name.replace("-", "") for name in names), names


def test_address_window_is_printed_and_the_rest_of_the_window_blank(fi_variant: Variant) -> None:
    image = page_image(one_letter(fi_variant), dpi=60)
    assert dark_pixels(crop_mm(image, 25, 52, 100, 88)) > 100  # the stamped address
    # Between the window and the body there is nothing.
    assert dark_pixels(crop_mm(image, 20, 91, 190, 97)) == 0


def test_page_is_a4_with_the_notice_at_the_bottom(fi_variant: Variant) -> None:
    image = page_image(one_letter(fi_variant), dpi=50)
    assert abs(image.width - 413) <= 1 and abs(image.height - 585) <= 1  # A4 at 50 dpi
    assert dark_pixels(crop_mm(image, 20, 259, 190, 287)) > 200


def test_personal_field_box_follows_the_surrounding_text_style(fi_variant: Variant) -> None:
    (field,) = fi_variant.pages[0].fields
    assert field.field == "first_name"
    assert field.style == "bold"  # inside the <h1>
    assert field.size > 14
    assert fi_variant.pages[0].body_rect.contains(field.rect)


def test_body_runs_over_onto_following_pages_with_the_notice_on_each() -> None:
    body = GREETING_BODY + "<p>Pitkä kirje.</p>" * 60
    variant = render_variant(body, {}, language="fi")
    assert len(variant.pages) >= 2
    pdf = one_letter(variant)
    pages = pdf_text(pdf).split("\f")
    assert all(NOTICE_FI in page for page in pages if page.strip())
    assert "Maria Virtanen" not in pages[1]  # the address only in the window of page 1
