"""The batch PDF: one page set per letter, presorted, every name exactly once."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pikepdf
import pytest

from dispatch.errors import InputError
from dispatch.rendering import (
    Letter,
    TextDoesNotFit,
    UnsupportedCharacter,
    Variant,
    preflight,
    render_variant,
    write_batch,
)
from dispatch.rendering.layout import render_frame
from dispatch.rendering.variant import _frame_graphs
from tests.rendering.helpers import (
    GREETING_BODY,
    make_recipient,
    pdf_lines,
    pdf_text,
    tool,
    window_lines,
)

LONGEST = "Maria-Kristiina Åkerström-Šimonović-Väänänen"


def people(n: int, language: str = "fi") -> list[Letter]:
    """Letters to distinct people, given in reverse postal order."""
    return [
        Letter(
            language,
            make_recipient(
                first_name=f"Etu{i:03d}",
                last_name=f"Suku{i:03d}",
                street=f"Katu {i}",
                postcode=f"{99999 - i * 37:05d}",
                language=language,
            ),
        )
        for i in range(n)
    ]


def batch(
    variants: dict[str, Variant], letters: list[Letter], **kwargs: bool
) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    out = io.BytesIO()
    index = write_batch(variants, letters, out, **kwargs)
    return out.getvalue(), [tuple(entry) for entry in index]  # type: ignore[misc]


def test_one_page_per_letter_in_presort_order_with_page_ranges(
    fi_variant: Variant, sv_variant: Variant
) -> None:
    letters = people(6) + people(6, "sv")[3:]
    pdf, index = batch({"fi": fi_variant, "sv": sv_variant}, letters)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == len(letters)
        labels = [page.label for page in doc.pages]
    assert [entry[:3] for entry in index] == [(n, n, 1) for n in range(1, len(letters) + 1)]
    postcodes = [window_lines(pdf, n)[-1][:5] for n in range(1, len(letters) + 1)]
    assert postcodes == sorted(postcodes)
    # input_index maps each sequence number back to the caller's letter.
    for sequence, first_page, _, input_index in index:
        assert window_lines(pdf, first_page)[0] == letters[input_index].recipient.full_name
        assert labels[first_page - 1] == f"{sequence}/1"


def test_every_recipient_appears_exactly_once(fi_variant: Variant) -> None:
    letters = people(25)
    text = pdf_text(batch({"fi": fi_variant}, letters)[0])
    for letter in letters:
        r = letter.recipient
        assert text.count(f"{r.first_name} {r.last_name}\n") == 1
        assert text.count(f"{r.street}\n{r.postcode} HELSINKI") == 1
        assert text.count(r.first_name) == 2  # the window and the greeting


def test_multi_page_letters_get_consecutive_page_ranges_and_document_parts() -> None:
    variant = render_variant(GREETING_BODY + "<p>Pitkä kirje.</p>" * 60, {}, language="fi")
    pages = len(variant.pages)
    assert pages >= 2
    pdf, index = batch({"fi": variant}, people(3))
    assert [(e[1], e[2]) for e in index] == [(1 + i * pages, pages) for i in range(3)]
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 3 * pages
        root = doc.Root.DPartRoot
        leaves = [leaf for group in root.DPartRootNode.DParts for leaf in group]
        assert [int(leaf.DPM.Letter.SequenceNo) for leaf in leaves] == [1, 2, 3]
        for leaf, (_, first, count, _) in zip(leaves, index, strict=True):
            assert leaf.Start.objgen == doc.pages[first - 1].obj.objgen
            assert leaf.End.objgen == doc.pages[first + count - 2].obj.objgen
        assert [p.label for p in doc.pages[:pages]] == [f"1/{n}" for n in range(1, pages + 1)]


def test_variant_pages_are_shared_objects_not_copies(fi_variant: Variant) -> None:
    pdf, _ = batch({"fi": fi_variant}, people(40))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        forms = {doc.pages[i].Resources.XObject.V0.objgen for i in range(len(doc.pages))}
        fonts = [
            obj
            for obj in doc.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type0"
        ]
    assert len(forms) == 1
    stamp_fonts = [f for f in fonts if "NotoSans-" in str(f.BaseFont)]
    assert len(stamp_fonts) == 2  # regular (address) and bold (greeting), once each
    assert len(pdf) < 40 * 1500 + 200_000  # a few hundred bytes per letter on top


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Maria-Kristiina", "Åkerström-Šimonović-Väänänen"),
        ("Žaneta Ülle", "Łukasiewicz-Ørsted-Þórsdóttir"),
        ("Åsa-Britt", "Öhrnberg-Šaškić-Ädelmann"),
        ("Őrs Ĳsbrand", "Ďurčo-Ŋoŧë-Ħaġar"),
    ],
)
def test_long_accented_names_fit_and_extract_exactly(
    fi_variant: Variant, first: str, last: str
) -> None:
    letter = Letter("fi", make_recipient(first_name=first, last_name=last))
    pdf, _ = batch({"fi": fi_variant}, [letter])
    assert window_lines(pdf)[0] == f"{first} {last}"
    assert f"Hei {first}" in pdf_lines(pdf, 1)
    assert preflight(pdf) == []


def test_name_too_long_for_one_line_wraps_onto_a_second(fi_variant: Variant) -> None:
    last = "Åkerström-Šimonović-Väänänen-Lindqvist-Björkström"
    letter = Letter("fi", make_recipient(first_name="Maria-Kristiina", last_name=last))
    pdf, _ = batch({"fi": fi_variant}, [letter])
    lines = window_lines(pdf)
    assert len(lines) == 4
    assert " ".join(lines[:2]).replace("- ", "-") == f"Maria-Kristiina {last}"
    assert lines[2:] == ["Mannerheimintie 12 B 7", "00100 HELSINKI"]


def test_address_that_cannot_fit_raises_a_clear_error(fi_variant: Variant) -> None:
    letters = [*people(2), Letter("fi", make_recipient(last_name="Å" * 200))]
    with pytest.raises(TextDoesNotFit) as caught:
        batch({"fi": fi_variant}, letters)
    assert "letter 2" in str(caught.value) and "address" in str(caught.value)
    assert "ÅÅÅ" not in str(caught.value)


def test_first_name_that_cannot_fit_its_box_raises(fi_variant: Variant) -> None:
    letter = Letter("fi", make_recipient(first_name="Maria-Kristiina-Aleksandra-Josefiina"))
    with pytest.raises(TextDoesNotFit, match="first_name"):
        batch({"fi": fi_variant}, [letter])


def test_character_the_font_lacks_raises(fi_variant: Variant) -> None:
    letter = Letter("fi", make_recipient(last_name="王"))
    with pytest.raises(UnsupportedCharacter, match="U\\+738B"):
        batch({"fi": fi_variant}, [letter])


def test_identical_input_gives_an_identical_file(fi_variant: Variant) -> None:
    letters = people(10)
    assert batch({"fi": fi_variant}, letters)[0] == batch({"fi": fi_variant}, letters)[0]


def test_relaid_variant_gives_an_identical_file() -> None:
    letters = people(3)
    first = batch({"fi": render_variant(GREETING_BODY, {}, language="fi")}, letters)[0]
    render_frame.cache_clear()
    _frame_graphs.cache_clear()
    second = batch({"fi": render_variant(GREETING_BODY, {}, language="fi")}, letters)[0]
    assert first == second
    assert b"CreationDate" not in first


def test_presorted_stream_gives_the_same_file_and_refuses_disorder(fi_variant: Variant) -> None:
    letters = people(8)
    sorted_letters = [letters[i] for i in reversed(range(8))]
    assert (
        batch({"fi": fi_variant}, sorted_letters, presorted=True)[0]
        == batch({"fi": fi_variant}, letters)[0]
    )
    with pytest.raises(InputError, match="presort"):
        batch({"fi": fi_variant}, letters, presorted=True)


def test_language_mismatch_and_unknown_variant_are_refused(fi_variant: Variant) -> None:
    with pytest.raises(InputError, match="reads sv"):
        batch({"fi": fi_variant}, [Letter("fi", make_recipient(language="sv"))])
    with pytest.raises(InputError, match="no variant"):
        batch({"fi": fi_variant}, [Letter("xx", make_recipient())])
    with pytest.raises(InputError, match="at least one letter"):
        batch({"fi": fi_variant}, [])


def test_personal_fields_can_be_overridden_per_letter(fi_variant: Variant) -> None:
    letter = Letter("fi", make_recipient(first_name="Margareta"), {"first_name": "Maggie"})
    lines = pdf_lines(batch({"fi": fi_variant}, [letter])[0], 1)
    assert "Hei Maggie" in lines and "Margareta Virtanen" in lines


def test_batch_is_a_valid_print_ready_pdf(
    fi_variant: Variant, sv_variant: Variant, tmp_path: Path
) -> None:
    pdf, _ = batch({"fi": fi_variant, "sv": sv_variant}, people(30) + people(30, "sv"))
    assert preflight(pdf) == []
    path = tmp_path / "batch.pdf"
    path.write_bytes(pdf)
    check = subprocess.run([tool("qpdf"), "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout


def test_punctuation_after_a_name_is_printed_right_after_it() -> None:
    body = '<p>Hei <span class="pf" data-field="first_name"></span>, tervetuloa!</p>'
    variant = render_variant(body, {}, language="fi")
    assert variant.pages[0].fields[0].suffix == ","
    pdf, _ = batch({"fi": variant}, [Letter("fi", make_recipient(first_name="Aino"))])
    assert "Hei Aino," in pdf_lines(pdf, 1)
