"""Preflight finds what would stop a PDF from being printed (or make it reach out)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pikepdf
import pytest

from dispatch.rendering import Variant, preflight, write_batch
from tests.rendering.helpers import make_recipient


def a_pdf(
    change: Callable[[pikepdf.Pdf], None] | None = None,
    size: tuple[float, float] = (595.28, 841.89),
) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=size)
    if change:
        change(pdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def annotate(action: dict[str, object]) -> Callable[[pikepdf.Pdf], None]:
    def change(pdf: pikepdf.Pdf) -> None:
        annot = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[0, 0, 10, 10],
            A=pikepdf.Dictionary(action),
        )
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([annot]))

    return change


def bare_font(pdf: pikepdf.Pdf) -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.TrueType, BaseFont=pikepdf.Name("/Arial")
    )
    pdf.pages[0].Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pdf.make_indirect(font)))


def javascript(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")
    )


def embedded_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["secret.txt"] = pikepdf.AttachedFileSpec(pdf, b"secret")


def test_blank_a4_page_passes() -> None:
    assert preflight(a_pdf()) == []


def test_batch_passes(fi_variant: Variant) -> None:
    out = io.BytesIO()
    write_batch({"fi": fi_variant}, [("fi", make_recipient())], out)
    assert preflight(out.getvalue()) == []


@pytest.mark.parametrize(
    ("pdf", "problem"),
    [
        (lambda: a_pdf(size=(612, 792)), "not A4"),
        (lambda: a_pdf(annotate({"/S": pikepdf.Name.URI, "/URI": "https://x.example"})), "URI"),
        (lambda: a_pdf(annotate({"/S": pikepdf.Name.Launch, "/F": "calc.exe"})), "Launch"),
        (
            lambda: a_pdf(annotate({"/S": pikepdf.Name.GoToR, "/F": "other.pdf", "/D": [0]})),
            "GoToR",
        ),
        (lambda: a_pdf(bare_font), "not embedded"),
        (lambda: a_pdf(javascript), "JavaScript"),
        (lambda: a_pdf(embedded_file), "embedded"),
        (lambda: b"%PDF-1.7 not really", "not a readable PDF"),
    ],
)
def test_problems_are_reported(pdf: Callable[[], bytes], problem: str) -> None:
    problems = preflight(pdf())
    assert any(problem in p for p in problems), problems
