"""Stamping one letter page: the shared variant page, then the personal text on top.

A letter page's content stream is a few hundred bytes::

    /V0 Do                                  the variant page (frame + clipped body)
    BT /F1 10 Tf 0 g                        the address, in the window
    1 0 0 1 70.866 632.126 Tm <0030...> Tj
    ...
    ET
    BT /F2 14 Tf 0.1 0.1 0.1 rg             each personal field, in its box
    1 0 0 1 95.5 551.2 Tm <0030...> Tj
    ET
    BT /F1 9 Tf 0 g ... ET                  the letter's code, in the notice
    q 0 g 47.6 0 0 47.6 485 140 cm          its QR code: a 1-bit image mask
    BI /W 25 /H 25 /IM true ... EI Q        (dispatch.rendering.qr)

Text is glyph ids of an embedded TrueType font (Identity-H), so no glyph depends
on a font of the printing machine and the ToUnicode map makes it extractable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dispatch.register.tokens import CODE_ALPHABET
from dispatch.rendering.fit import LEADING, Fitted, fit_lines
from dispatch.rendering.fonts import StampFont, clean_text
from dispatch.rendering.layout import Rect
from dispatch.rendering.pdfwriter import num
from dispatch.rendering.qr import QrTable
from dispatch.rendering.variant import FieldBox, VariantPage

#: The address is printed at this size, shrinking to ADDRESS_MIN_SIZE if needed.
ADDRESS_SIZE = 10.0
ADDRESS_MIN_SIZE = 8.0
#: The code box is 1.2 em high (templates/letter/letter.css): the code's size is its
#: height divided by this.
CODE_BOX_EMS = 1.2


@dataclass
class StampFace:
    """One face as used in a batch: its resource name and the characters printed."""

    resource: str
    font: StampFont
    used: set[str] = field(default_factory=set)


class Stamper:
    """Builds letter-page content streams; remembers which characters each face used."""

    def __init__(self, faces: Mapping[str, StampFace]) -> None:
        self.faces = faces
        self._address_face = faces["regular"]
        # First names recur across a batch: the operators for a name in a box are
        # made once (fitting, glyph encoding) and reused for every letter with it.
        self._fields: dict[tuple[int, int, str], str] = {}
        # Text positions depend only on the box, size and line count.
        self._starts: dict[tuple[Rect, float, float | None, str], tuple[str, tuple[str, ...]]] = {}
        self._widest_code: dict[int, int] = {}

    def page(
        self,
        page: VariantPage,
        form: str,
        address: Sequence[str] | None,
        fields: Mapping[str, str],
        code: tuple[str, QrTable] | None = None,
    ) -> bytes:
        """The content stream of one letter page; ``code`` is the letter's code as
        printed and the QR table that draws it with its address."""
        ops = [f"/{form} Do"]
        if page.address is not None and address is not None:
            face = self._address_face
            fitted = fit_lines(
                address,
                face.font,
                width=page.address.width,
                height=page.address.height,
                size=ADDRESS_SIZE,
                min_size=ADDRESS_MIN_SIZE,
                what="address",
            )
            ops.append(self._text(face, fitted, page.address, "0 g", baseline=None))
        for number, box in enumerate(page.fields):
            text = clean_text(fields.get(box.field, ""))
            if text:
                text += box.suffix
                key = (id(page), number, text)
                op = self._fields.get(key)
                if op is None:
                    op = self._fields[key] = self._field(box, text)
                ops.append(op)
        if code is not None and page.code is not None and page.qr is not None:
            printed, table = code
            ops.append(self._code(page.code, printed))
            qr = page.qr
            ops.append(table.draw(printed.replace("-", ""), qr.x, qr.y, min(qr.width, qr.height)))
        return "\n".join(ops).encode("ascii")

    def _code(self, box: Rect, printed: str) -> str:
        face = self._address_face
        size = box.height / CODE_BOX_EMS
        widest = self._widest_code.get(len(printed))
        if widest is None:
            # Codes are all as long: when one of the widest characters fits, all do,
            # and no code needs fitting of its own.
            wide = max(CODE_ALPHABET, key=face.font.width)
            widest = self._widest_code[len(printed)] = face.font.width(wide * len(printed))
        if widest * size / 1000 <= box.width:
            fitted = Fitted(size, (printed,))
        else:
            fitted = fit_lines(
                (printed,),
                face.font,
                width=box.width,
                height=box.height,
                size=size,
                min_size=size * 0.8,
                what="letter code",
            )
        return self._text(face, fitted, box, "0 g", baseline=box.top - size)

    def _field(self, box: FieldBox, text: str) -> str:
        face = self.faces[box.style]
        fitted = fit_lines(
            (text,),
            face.font,
            width=box.rect.width,
            height=box.rect.height,
            size=box.size,
            min_size=box.min_size,
            what=f"personal field {box.field!r}",
        )
        red, green, blue = box.color
        color = f"{num(red)} {num(green)} {num(blue)} rg"
        # One line stays on the baseline of the text around the box (1 em below the
        # box top at the layout's size), whatever size it shrank to.
        baseline = box.rect.top - box.size if len(fitted.lines) == 1 else None
        return self._text(face, fitted, box.rect, color, baseline)

    def _text(
        self, face: StampFace, fitted: Fitted, rect: Rect, color: str, baseline: float | None
    ) -> str:
        size, lines = fitted.size, fitted.lines
        key = (rect, size, baseline, f"{face.resource} {color} {len(lines)}")
        starts = self._starts.get(key)
        if starts is None:
            x = num(rect.x)
            ys = [
                baseline if baseline is not None else rect.top - size * (1 + i * LEADING)
                for i in range(len(lines))
            ]
            head = f"BT /{face.resource} {num(size)} Tf {color}\n"
            starts = self._starts[key] = (head, tuple(f"1 0 0 1 {x} {num(y)} Tm <" for y in ys))
        head, positions = starts
        encode = face.font.encode
        for line in lines:
            face.used.update(line)
        body = "\n".join(
            f"{start}{encode(line)}> Tj" for start, line in zip(positions, lines, strict=True)
        )
        return f"{head}{body}\nET"
