"""PDF inspection helpers and sample data for the rendering tests.

The helpers call poppler's command-line tools (pdftotext, pdftoppm, pdffonts): the
same tools a print house would check a file with.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
from PIL import Image

from dispatch.rendering import Recipient
from tests.conftest import need_service

MM = 72 / 25.4

GREETING_BODY = """
<h1>Hei <span class="pf" data-field="first_name"></span></h1>
<p>Kevään pyöräkampanja alkaa: kaikki pyörät ja varusteet -20 % kanta-asiakkaille.</p>
<p>Tervetuloa myymälöihimme! Tarjous on voimassa 30.4. asti.</p>
"""
GREETING_BODY_SV = GREETING_BODY.replace("Hei", "Hej").replace(
    "Kevään pyöräkampanja alkaa", "Vårens cykelkampanj börjar"
)

NOTICE_FI = "Suoramarkkinointikielto"
NOTICE_SV = "Förbud mot direktmarknadsföring"


def make_recipient(**overrides: str | None) -> Recipient:
    values: dict[str, str | None] = {
        "first_name": "Maria",
        "last_name": "Virtanen",
        "address_extra": None,
        "street": "Mannerheimintie 12 B 7",
        "postcode": "00100",
        "post_town": "Helsinki",
        "language": "fi",
    }
    values.update(overrides)
    return Recipient(**values)  # type: ignore[arg-type]


def tool(name: str) -> str:
    """The command ``name`` (poppler's or qpdf), when installed; when not, the test
    skips locally and fails in CI, saying how to install it (``make test`` does)."""
    if shutil.which(name) is None:
        need_service(
            name,
            "not installed; `make test` installs it (Debian: apt-get install poppler-utils qpdf)",
        )
    return name


def _run(args: list[str], pdf: bytes, *, to_stdout: bool = True) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.pdf"
        path.write_bytes(pdf)
        out = ["-"] if to_stdout else []
        command = [tool(args[0]), *args[1:], str(path), *out]
        return subprocess.run(command, check=True, capture_output=True).stdout


def pdf_text(
    pdf: bytes, *, first: int | None = None, last: int | None = None, layout: bool = False
) -> str:
    """Text extracted by pdftotext (reading order, pages separated by form feeds; with
    ``layout``, as laid out on the page: a table's row on one line)."""
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else [])]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    return _run(args, pdf).decode("utf-8")


def pdf_lines(pdf: bytes, page: int) -> list[str]:
    """The non-empty text lines of one page."""
    text = pdf_text(pdf, first=page, last=page)
    return [line.strip() for line in text.splitlines() if line.strip()]


def window_lines(pdf: bytes, page: int = 1) -> list[str]:
    """The lines printed in the address part of the window (below the return line)."""
    x, y, w, h = (round(v * MM) for v in (20, 51, 85, 39))
    crop = ["-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h)]
    args = ["pdftotext", "-enc", "UTF-8", "-layout", "-f", str(page), "-l", str(page), *crop]
    text = _run(args, pdf).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def word_boxes(pdf: bytes, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """Words with (xmin, ymin, xmax, ymax) in millimetres from the page's top-left."""
    html = _run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page)], pdf).decode("utf-8")
    words = []
    for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', html
    ):
        x0, y0, x1, y1 = (float(m[i]) / MM for i in range(1, 5))
        words.append((m[5], x0, y0, x1, y1))
    return words


def page_image(pdf: bytes, page: int = 1, dpi: int = 50) -> Image.Image:
    """One page rendered by pdftoppm, in grey levels."""
    png = subprocess.run(
        [tool("pdftoppm"), "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-"],
        input=pdf,
        check=True,
        capture_output=True,
    ).stdout
    return Image.open(io.BytesIO(png)).convert("L")


def crop_mm(
    image: Image.Image, left: float, top: float, right: float, bottom: float
) -> Image.Image:
    """A region of a page image, given in millimetres from the top-left corner."""
    scale = image.width / 210
    box = (round(left * scale), round(top * scale), round(right * scale), round(bottom * scale))
    return image.crop(box)


def dark_pixels(image: Image.Image, threshold: int = 128) -> int:
    return sum(image.histogram()[:threshold])


def font_names(pdf: bytes) -> list[tuple[str, bool]]:
    """(name, embedded) of every font, from pdffonts."""
    lines = _run(["pdffonts"], pdf, to_stdout=False).decode().splitlines()[2:]
    result = []
    for line in lines:
        parts = line.split()
        # name, type, encoding, emb, sub, uni, object id, generation: emb is 5th from the end.
        result.append((parts[0], parts[-5] == "yes"))
    return result


def decoded_streams(pdf: bytes) -> Iterator[bytes]:
    """Every stream of the file, decoded (a secret could hide in a compressed one)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    yield obj.read_bytes()
                except pikepdf.PdfError:
                    yield obj.read_raw_bytes()
