"""Embedding a stamp font in a batch: Type0 / CIDFontType2 with Identity-H.

The glyph ids in the content streams are the font's own (the subset keeps them), so
``/CIDToGIDMap /Identity``; ``/W`` carries the advance widths the engine measured
with, and the ToUnicode CMap maps each glyph back to its character so that the
printed text can be extracted (and checked) exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from dispatch.rendering.fonts import StampFont
from dispatch.rendering.pdfwriter import PdfWriter, num, ref

_CMAP_HEAD = """/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
"""
_CMAP_TAIL = """endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def write_font(writer: PdfWriter, number: int, font: StampFont, used: Iterable[int]) -> None:
    """Write ``font`` as object ``number``, subset to the base coverage plus ``used``."""
    gids = font.base_gids() | frozenset(used) | {0}
    program = font.subset_program(gids)
    # A subset's name carries a six-letter tag (ISO 32000 9.6.4); derive it from the
    # glyph set so that identical batches give identical files.
    glyphs = ",".join(map(str, sorted(gids)))
    digest = hashlib.sha256(f"{font.postscript_name}:{glyphs}".encode()).digest()
    tag = "".join(chr(65 + b % 26) for b in digest[:6])
    name = f"{tag}+{font.postscript_name}"
    flags = 32 | (64 if font.italic_angle else 0)  # nonsymbolic, italic

    program_obj = writer.reserve()
    writer.stream(program_obj, f"/Length1 {len(program)}", program)
    bbox = " ".join(str(v) for v in font.bbox)
    descriptor = writer.add(
        f"<</Type/FontDescriptor/FontName/{name}/Flags {flags}/FontBBox[{bbox}]"
        f"/ItalicAngle {num(font.italic_angle)}/Ascent {num(font.ascent)}"
        f"/Descent {num(font.descent)}/CapHeight {num(font.cap_height)}/StemV 80"
        f"/FontFile2 {ref(program_obj)}>>"
    )
    cid_font = writer.add(
        f"<</Type/Font/Subtype/CIDFontType2/BaseFont/{name}"
        "/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>"
        f"/FontDescriptor {ref(descriptor)}/CIDToGIDMap/Identity/DW 1000"
        f"/W[{widths(font, gids)}]>>"
    )
    to_unicode = writer.reserve()
    writer.stream(to_unicode, "", to_unicode_cmap(font, gids))
    writer.write(
        number,
        f"<</Type/Font/Subtype/Type0/BaseFont/{name}/Encoding/Identity-H"
        f"/DescendantFonts[{ref(cid_font)}]/ToUnicode {ref(to_unicode)}>>",
    )


def widths(font: StampFont, gids: Iterable[int]) -> str:
    """The ``/W`` array body: runs of consecutive glyph ids with their widths."""
    runs: list[list[int]] = []
    for gid in sorted(gids):
        if runs and runs[-1][0] + len(runs[-1]) - 1 == gid:
            runs[-1].append(font.advance[gid])
        else:
            runs.append([gid, font.advance[gid]])
    return " ".join(f"{run[0]}[{' '.join(map(str, run[1:]))}]" for run in runs)


def to_unicode_cmap(font: StampFont, gids: Iterable[int]) -> bytes:
    mapping = sorted(font.unicode_of(gids).items())
    blocks = []
    for start in range(0, len(mapping), 100):  # at most 100 entries per block
        chunk = mapping[start : start + 100]
        lines = "\n".join(
            f"<{gid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for gid, ch in chunk
        )
        blocks.append(f"{len(chunk)} beginbfchar\n{lines}\nendbfchar\n")
    return (_CMAP_HEAD + "".join(blocks) + _CMAP_TAIL).encode("ascii")
