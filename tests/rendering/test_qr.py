"""The letter's code and QR code in the objection notice, stamped per letter.

The QR codes come from :class:`dispatch.rendering.qr.QrTable` (XOR of precomputed
module patterns); they must be exactly segno's, and the PDF must draw exactly them.
"""

from __future__ import annotations

import dataclasses
import io
import random

import pytest
import segno

from dispatch.errors import InputError
from dispatch.register.tokens import CODE_ALPHABET, CODE_LENGTH, format_code, letter_code
from dispatch.rendering import DEMO_SENDER, Letter, render_single_letter, render_variant
from dispatch.rendering.batch import write_batch
from dispatch.rendering.layout import MM
from dispatch.rendering.qr import QUIET, QrTable
from tests.rendering.helpers import (
    GREETING_BODY,
    crop_mm,
    dark_pixels,
    make_recipient,
    page_image,
    pdf_text,
    word_boxes,
)

CODES = [
    "".join(random.Random(n).choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)) for n in range(400)
]


def _segno_matrix(text: str, table: QrTable) -> list[list[bool]]:
    qr = segno.make_qr(text, **table.options)  # type: ignore[arg-type]
    return [[bool(module) for module in row] for row in qr.matrix]


@pytest.mark.parametrize(
    "prefix",
    [
        "HTTP://127.0.0.1:8000/K/",  # the demo's: alphanumeric mode, even length
        "HTTPS://ESIMERKKI.FI/K/",  # odd length: the first code character pairs with '/'
        "https://esimerkki.fi/jasen/K/",  # a path in lower case: byte mode
    ],
)
def test_every_code_gets_exactly_segnos_qr_code(prefix: str) -> None:
    table = QrTable(prefix, CODE_LENGTH, CODE_ALPHABET)

    wrong = [code for code in CODES if table.matrix(code) != _segno_matrix(prefix + code, table)]

    assert wrong == []


def test_a_letter_prints_its_code_and_short_address_in_the_notice() -> None:
    code = letter_code("test-secret", 12, 345)

    pdf = render_single_letter(GREETING_BODY, {}, make_recipient(), code=code)

    text = " ".join(pdf_text(pdf).split())
    assert format_code(code) in text and DEMO_SENDER.web in text
    printed = [w for w in word_boxes(pdf) if w[0] == format_code(code)]
    assert printed and printed[0][2] >= 255  # in the notice, at the foot of the page


def test_the_printed_qr_code_is_the_letters_own() -> None:
    code = letter_code("test-secret", 12, 346)
    variant = render_variant(GREETING_BODY, {}, language="fi")
    out = io.BytesIO()
    write_batch({"fi": variant}, [Letter("fi", make_recipient(), {}, code)], out)
    box = variant.pages[0].qr
    assert box is not None and variant.code_url is not None
    expected = _segno_matrix(variant.code_url + code, QrTable(variant.code_url, 12, CODE_ALPHABET))
    dpi = 300
    image = page_image(out.getvalue(), dpi=dpi)
    px = dpi / 72  # pixels per point
    size = len(expected)
    unit = min(box.width, box.height) / (size + 2 * QUIET)
    left, top = box.x + QUIET * unit, box.y + min(box.width, box.height) - QUIET * unit
    page_height = image.height / px

    read = [
        [
            image.getpixel(
                (
                    round((left + (col + 0.5) * unit) * px),
                    round((page_height - top + (row + 0.5) * unit) * px),
                )
            )
            < 128
            for col in range(size)
        ]
        for row in range(size)
    ]

    assert read == expected
    assert unit / MM >= 0.5  # modules of half a millimetre or more scan from paper


def test_a_letter_without_a_code_leaves_the_boxes_empty() -> None:
    variant = render_variant(GREETING_BODY, {}, language="sv")
    pdf = render_single_letter(GREETING_BODY, {}, make_recipient(language="sv"))
    box = variant.pages[0].qr
    assert box is not None

    blank = crop_mm(
        page_image(pdf, dpi=100),
        box.x / MM,
        (297 * MM - box.top) / MM,
        (box.x + box.width) / MM,
        (297 * MM - box.y) / MM,
    )

    assert dark_pixels(blank) == 0


def test_a_code_needs_a_layout_with_room_for_it_and_must_be_a_code() -> None:
    plain = render_variant(
        GREETING_BODY, {}, language="fi", sender=dataclasses.replace(DEMO_SENDER, code_url=None)
    )
    with_code = render_variant(GREETING_BODY, {}, language="fi")

    with pytest.raises(InputError, match="no room"):
        write_batch({"fi": plain}, [Letter("fi", make_recipient(), {}, CODES[0])], io.BytesIO())
    with pytest.raises(InputError, match="not a preference-centre code"):
        write_batch({"fi": with_code}, [Letter("fi", make_recipient(), {}, "abc")], io.BytesIO())
    assert plain.pages[0].qr is None and "koodi" not in pdf_text(
        render_single_letter(
            GREETING_BODY,
            {},
            make_recipient(),
            sender=dataclasses.replace(DEMO_SENDER, code_url=None),
        )
    )
