"""The letter fonts: shipped Noto Sans only, never a font of the machine.

Two users:

* WeasyPrint lays out the layout and the creative body with an
  :func:`isolated_font_config`: a Fontconfig configuration that holds no system font
  at all, only the shipped faces of ``templates/fonts/`` and the faces loaded through
  ``@font-face`` (served by the fetcher). A creative asking for ``serif`` or
  ``local(Arial)`` gets Noto Sans or its own bundle font, on every machine alike.
* The batch engine stamps names and addresses with a :class:`StampFont`: the
  TrueType metrics (fontTools ``cmap`` and ``hmtx``) to measure and encode text as
  glyph ids, and a subset of the font program to embed once per batch.
"""

from __future__ import annotations

import ctypes.util
import functools
import io
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cffi  # type: ignore[import-untyped]
from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from dispatch.errors import InputError
from dispatch.rendering.weasy import FontConfiguration, ffi, fontconfig, gobject, pangoft2

FONT_DIR = Path(__file__).resolve().parents[2] / "templates" / "fonts"

#: The faces the system ships, by the style names the stamping engine uses.
FACES: Mapping[str, str] = {
    "regular": "NotoSans-Regular.ttf",
    "bold": "NotoSans-Bold.ttf",
    "italic": "NotoSans-Italic.ttf",
}

#: Characters every stamp font subset covers, so that most batches share one cached
#: subset: Basic Latin, Latin-1, Latin Extended-A and -B, and common punctuation.
BASE_COVERAGE = frozenset(
    chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x2010, 0x2027), 0x20AC)
)


class UnsupportedCharacter(InputError):
    """Text holds a character the letter font cannot print."""


@functools.cache
def font_files() -> Mapping[str, bytes]:
    """The shipped font programs, keyed by their ``system:///`` path."""
    return {f"fonts/{name}": (FONT_DIR / name).read_bytes() for name in FACES.values()}


# WeasyPrint declares only FcInitLoadConfigAndFonts, which loads every system font.
# FcConfigCreate from the same shared library gives an empty configuration instead.
_fc_ffi = cffi.FFI()
_fc_ffi.cdef("void *FcConfigCreate(void);")
_fc_lib: Any = _fc_ffi.dlopen(ctypes.util.find_library("fontconfig") or "libfontconfig.so.1")


class _IsolatedFontConfiguration(FontConfiguration):  # type: ignore[misc]  # untyped lib
    def __init__(self) -> None:  # does not call super(): that would load system fonts
        empty = _fc_lib.FcConfigCreate()
        self._config = ffi.cast("FcConfig *", int(_fc_ffi.cast("uintptr_t", empty)))
        # The shipped faces are always there, so every family (``serif``, a failed
        # @font-face) falls back to Noto Sans: Pango crashes when it finds no font.
        for name in FACES.values():
            if not fontconfig.FcConfigAppFontAddFile(self._config, str(FONT_DIR / name).encode()):
                raise RuntimeError(f"cannot load the shipped font {name}")
        self.font_map = ffi.gc(pangoft2.pango_ft2_font_map_new(), gobject.g_object_unref)
        pangoft2.pango_fc_font_map_set_config(
            ffi.cast("PangoFcFontMap *", self.font_map), self._config
        )
        # The font map now holds a reference; drop ours, as WeasyPrint does.
        fontconfig.FcConfigDestroy(self._config)
        self._folder = None
        self.strut_layouts: dict[Any, Any] = {}
        self.font_features: dict[Any, Any] = {}


def isolated_font_config() -> FontConfiguration:
    """A WeasyPrint font configuration without any system font."""
    return _IsolatedFontConfiguration()


def clean_text(text: str) -> str:
    """NFC-normalised text with each whitespace run as one space (what gets printed)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class StampFont:
    """Metrics, glyph encoding and embedding of one TrueType face for stamping.

    Widths are in thousandths of the font size (PDF glyph space), so a string is
    ``width(text) * size / 1000`` points wide, exactly as printed: stamping uses no
    kerning or ligatures, so measurement and output cannot disagree.
    """

    def __init__(self, name: str, program: bytes) -> None:
        self.name = name
        self.program = program
        font = TTFont(io.BytesIO(program), recalcTimestamp=False, lazy=True)
        self.postscript_name = str(font["name"].getDebugName(6) or name).replace(" ", "")
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        scale = 1000 / head.unitsPerEm
        self.ascent = hhea.ascent * scale
        self.descent = hhea.descent * scale
        self.cap_height = getattr(os2, "sCapHeight", hhea.ascent) * scale
        self.bbox = tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax))
        self.italic_angle = float(font["post"].italicAngle)
        order = font.getGlyphOrder()
        metrics = font["hmtx"].metrics
        self.advance: dict[int, int] = {
            gid: round(metrics[glyph][0] * scale) for gid, glyph in enumerate(order)
        }
        cmap: dict[int, str] = font.getBestCmap()
        gid_of = {glyph: gid for gid, glyph in enumerate(order)}
        #: char -> glyph id, hex-encoded glyph id (Identity-H) and advance width.
        self.gid: dict[str, int] = {chr(cp): gid_of[glyph] for cp, glyph in cmap.items()}
        self._hex: dict[str, str] = {ch: f"{gid:04X}" for ch, gid in self.gid.items()}
        self._width: dict[str, int] = {ch: self.advance[gid] for ch, gid in self.gid.items()}
        self._subsets: dict[frozenset[int], bytes] = {}
        self._base: frozenset[int] | None = None

    def width(self, text: str) -> int:
        """Advance width of ``text`` in thousandths of the font size."""
        try:
            return sum(map(self._width.__getitem__, text))
        except KeyError:
            raise self._unsupported(text) from None

    def encode(self, text: str) -> str:
        """``text`` as hex glyph ids for a ``<...> Tj`` with an Identity-H font."""
        try:
            return "".join(map(self._hex.__getitem__, text))
        except KeyError:
            raise self._unsupported(text) from None

    def gids(self, text: Iterable[str]) -> set[int]:
        return {self.gid[ch] for ch in text if ch in self.gid}

    def base_gids(self) -> frozenset[int]:
        """The glyphs of :data:`BASE_COVERAGE` (embedded in every batch)."""
        if self._base is None:
            self._base = frozenset(self.gids(BASE_COVERAGE))
        return self._base

    def subset_program(self, gids: frozenset[int]) -> bytes:
        """The font program cut down to ``gids``, glyph ids unchanged (cached)."""
        cached = self._subsets.get(gids)
        if cached is None:
            options = subset.Options()
            options.retain_gids = True  # content streams already hold the original ids
            options.notdef_outline = True
            options.hinting = False
            options.layout_features = []
            options.name_IDs = ["*"]
            font = TTFont(io.BytesIO(self.program), recalcTimestamp=False, lazy=True)
            # Stamped text is not shaped, so layout tables are dead weight; deleting
            # them before the subsetter reads them halves the time a subset takes.
            for tag in ("GSUB", "GPOS", "GDEF", "DSIG"):
                if tag in font:
                    del font[tag]
            subsetter = subset.Subsetter(options)
            subsetter.populate(gids=sorted(gids | {0}))
            subsetter.subset(font)
            out = io.BytesIO()
            font.save(out)
            cached = self._subsets[gids] = out.getvalue()
        return cached

    def unicode_of(self, gids: Iterable[int]) -> dict[int, str]:
        """For ToUnicode: each glyph's character (the lowest code point if shared)."""
        wanted = set(gids)
        result: dict[int, str] = {}
        for ch in sorted(self.gid, key=ord):
            gid = self.gid[ch]
            if gid in wanted and gid not in result:
                result[gid] = ch
        return result

    def _unsupported(self, text: str) -> UnsupportedCharacter:
        bad = sorted({ch for ch in text if ch not in self.gid})
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        return UnsupportedCharacter(f"the letter font {self.name} cannot print {shown}")


@functools.cache
def stamp_font(style: str) -> StampFont:
    """The shared :class:`StampFont` of one face (``regular``, ``bold``, ``italic``)."""
    name = FACES[style]
    return StampFont(name.removesuffix(".ttf"), font_files()[f"fonts/{name}"])
