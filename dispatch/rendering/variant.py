"""A letter variant: one creative body in one language, laid out once.

Every letter of a variant shares the same pages; only the address and personal
fields differ. :func:`render_variant` runs WeasyPrint once, then turns each page into
a :class:`~dispatch.rendering.pdfwriter.PdfGraph` (the page as a Form XObject with
its fonts and images, extracted with pikepdf once) and records the boxes the batch
engine stamps into: the address field and every ``span.pf[data-field]``
placeholder, with the font size, weight and colour of the text around it.
"""

from __future__ import annotations

import functools
import io
import re
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pikepdf
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from dispatch.creatives.context import PLACEHOLDER_ATTRIBUTE, PLACEHOLDER_CLASS
from dispatch.db.types import Language
from dispatch.rendering.layout import (
    DEMO_SENDER,
    PX,
    CreativeRejected,
    Rect,
    SenderInfo,
    render_body,
    render_frame,
)
from dispatch.rendering.pdfwriter import PdfGraph
from dispatch.rendering.weasy import boxes

#: A creative body may run to this many pages; more is refused (invariant 5).
MAX_BODY_PAGES = 4
#: Personal text may shrink to this share of its surrounding text size, and never
#: below MIN_FIELD_SIZE points.
FIELD_MIN_RATIO = 0.7
MIN_FIELD_SIZE = 6.0


@dataclass(frozen=True, slots=True)
class FieldBox:
    """A personal-field box on a page, in page coordinates (points)."""

    field: str
    rect: Rect
    size: float
    style: str  # "regular", "bold" or "italic": a face of templates/fonts
    color: tuple[float, float, float]
    #: Punctuation that followed the placeholder in the body ("Hei {name}!"), printed
    #: right after the member's text instead of after the end of the fixed-width box.
    suffix: str = ""

    @property
    def min_size(self) -> float:
        return max(MIN_FIELD_SIZE, self.size * FIELD_MIN_RATIO)


@dataclass(frozen=True, slots=True)
class VariantPage:
    """One page of a variant: the frame and the clipped body, and the boxes to stamp."""

    frame: PdfGraph
    body: PdfGraph
    body_rect: Rect
    address: Rect | None
    fields: tuple[FieldBox, ...]
    #: Where the letter's code and its QR code go (first page only, when it has one).
    code: Rect | None = None
    qr: Rect | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """A laid-out letter variant, reusable across any number of batches."""

    language: str
    pages: tuple[VariantPage, ...]
    #: The QR code's text before the letter's code (None: letters carry no code).
    code_url: str | None = None

    @property
    def styles(self) -> frozenset[str]:
        """The font faces the variant's personal fields are stamped in."""
        return frozenset(f.style for page in self.pages for f in page.fields)


def render_variant(
    body_html: str,
    assets: Mapping[str, bytes],
    *,
    language: str,
    sender: SenderInfo | None = None,
) -> Variant:
    """Lay out one variant: ``body_html`` is the creative's rendered letter body.

    ``assets`` are the bundle's files by relative path (``assets/logo.png``); only
    ``assets/`` is served. Raises :class:`CreativeRejected` when the body refers to
    anything else, runs over :data:`MAX_BODY_PAGES` pages, or places a personal field
    where it cannot be stamped.
    """
    lang = Language(language).value
    sender = sender or DEMO_SENDER
    frame_first, frame_next = _frame_graphs(lang, sender)
    frame = render_frame(lang, sender)
    body = render_body(attach_punctuation(body_html), assets, lang, frame)
    pages = body.document.pages
    if len(pages) > MAX_BODY_PAGES:
        raise CreativeRejected(
            f"the letter body runs to {len(pages)} pages; at most {MAX_BODY_PAGES}"
        )
    graphs = pdf_page_graphs(body.pdf)
    result = []
    for number, (page, graph) in enumerate(zip(pages, graphs, strict=True)):
        rect = frame.body_first if number == 0 else frame.body_next
        result.append(
            VariantPage(
                frame=frame_first if number == 0 else frame_next,
                body=graph,
                body_rect=rect,
                address=frame.address if number == 0 else None,
                fields=_field_boxes(page, rect),
                code=frame.code if number == 0 else None,
                qr=frame.qr if number == 0 else None,
            )
        )
    return Variant(language=lang, pages=tuple(result), code_url=sender.code_url)


_PLACEHOLDER_THEN_PUNCTUATION = re.compile(
    rf'(<span class="{PLACEHOLDER_CLASS}" {PLACEHOLDER_ATTRIBUTE}="[a-z_]+")></span>'
    r"([,.!?:;]{1,3})"
)
_SUFFIX_ATTRIBUTE = "data-suffix"
_SUFFIX = re.compile(r"^[,.!?:;]{1,3}$")


def attach_punctuation(body_html: str) -> str:
    """Move punctuation that directly follows a placeholder into the placeholder.

    A placeholder is a fixed-width box, so in ``Hei {name},`` the comma would sit at
    the end of the box, a gap away from a short name. Carried as ``data-suffix``, it
    is stamped right after the name instead.
    """
    return _PLACEHOLDER_THEN_PUNCTUATION.sub(rf'\1 {_SUFFIX_ATTRIBUTE}="\2"></span>', body_html)


@functools.lru_cache(maxsize=16)
def _frame_graphs(language: str, sender: SenderInfo) -> tuple[PdfGraph, PdfGraph]:
    first, following = pdf_page_graphs(render_frame(language, sender).pdf)
    return first, following


def warm_up(sender: SenderInfo) -> None:
    """Lay out the system frame (letterhead, address window, objection notice) of
    every language for ``sender`` now, into this process's cache.

    The frame is the same for every campaign, and the costliest part of a variant:
    0.17 s of CPU for both languages on the bench machine, which a fresh worker
    process otherwise spends in its first post batch while its other threads wait.
    """
    for language in Language:
        _frame_graphs(language.value, sender)


def _field_boxes(page: Any, body: Rect) -> tuple[FieldBox, ...]:
    """Find the placeholder boxes on a body page; positions relative to the letter page."""
    found: list[FieldBox] = []
    page_height = page.height * PX

    def visit(box: Any, transformed: bool) -> None:
        transformed = transformed or bool(box.style["transform"])
        element = box.element
        if (
            isinstance(box, boxes.Box)
            and element is not None
            and not box.element_tag.endswith(("::before", "::after", "::marker"))
            and element.get(PLACEHOLDER_ATTRIBUTE)
            and PLACEHOLDER_CLASS in (element.get("class") or "").split()
        ):
            found.append(
                _field_box(box, element.get(PLACEHOLDER_ATTRIBUTE), body, page_height, transformed)
            )
            return
        for child in getattr(box, "children", ()):
            if isinstance(child, boxes.Box):
                visit(child, transformed)

    visit(page._page_box, transformed=False)
    return tuple(found)


def _field_box(box: Any, field: str, body: Rect, page_height: float, transformed: bool) -> FieldBox:
    if transformed:
        raise CreativeRejected(f"personal field {field!r} is inside a transformed element")
    x, y = box.border_box_x() * PX, box.border_box_y() * PX
    width, height = box.border_width() * PX, box.border_height() * PX
    local = Rect(x, page_height - y - height, width, height)
    if not Rect(0, 0, body.width, body.height).contains(local):
        raise CreativeRejected(f"personal field {field!r} lies outside the letter body area")
    style = box.style
    size = round(style["font_size"] * PX, 3)
    if size < MIN_FIELD_SIZE:
        raise CreativeRejected(
            f"personal field {field!r} is set in {size:g} pt; at least {MIN_FIELD_SIZE:g} pt"
        )
    weight = int(style["font_weight"]) if str(style["font_weight"]).isdigit() else 400
    face = "bold" if weight >= 600 else "italic" if style["font_style"] != "normal" else "regular"
    red, green, blue = style["color"].to("srgb").coordinates
    suffix = box.element.get(_SUFFIX_ATTRIBUTE) or ""
    return FieldBox(
        field=field,
        rect=Rect(body.x + local.x, body.y + local.y, width, height),
        size=size,
        style=face,
        color=(_unit(red), _unit(green), _unit(blue)),
        suffix=suffix if _SUFFIX.match(suffix) else "",
    )


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 3)


# --- PDF pages to PdfGraphs -------------------------------------------------------


def pdf_page_graphs(pdf: bytes) -> list[PdfGraph]:
    """Each page of ``pdf`` as a Form XObject graph (content, resources, no annotations).

    Annotations (links, attachments) are dropped on purpose: a printed letter has no
    use for them, and preflight forbids external references.
    """
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return [_graph(pikepdf.Page(page).as_form_xobject()) for page in document.pages]


def _graph(root: pikepdf.Object) -> PdfGraph:
    objects: list[list[bytes | int]] = []
    index: dict[tuple[int, int], int] = {}
    pending: list[tuple[int, pikepdf.Object]] = []

    def local(obj: pikepdf.Object) -> int:
        key = obj.objgen
        if key not in index:
            index[key] = len(objects)
            objects.append([])
            pending.append((index[key], obj))
        return index[key]

    def emit(value: Any, parts: list[bytes | int]) -> None:
        if isinstance(value, pikepdf.Object) and value.is_indirect:
            parts.append(local(value))
        elif isinstance(value, pikepdf.Dictionary):
            _dictionary(value, parts, emit)
        elif isinstance(value, pikepdf.Array):
            parts.append(b"[")
            for item in value:
                emit(item, parts)
                parts.append(b" ")
            parts.append(b"]")
        else:
            parts.append(_scalar(value))

    local(root)
    while pending:
        number, obj = pending.pop(0)
        parts: list[bytes | int] = []
        if isinstance(obj, pikepdf.Stream):
            data, skip, extra = obj.read_raw_bytes(), {"/Length"}, b""
            if "/Length1" in obj or obj.get("/Subtype") == "/OpenType":
                program = _fixed_timestamp(obj.read_bytes())
                data = zlib.compress(program, 6)
                skip |= {"/Filter", "/DecodeParms", "/Length1"}
                extra = b"/Filter /FlateDecode/Length1 %d" % len(program)
            extra += b"/Length %d" % len(data)
            _dictionary(obj.stream_dict, parts, emit, skip=skip, extra=extra)
            parts.append(b"\nstream\n" + data + b"\nendstream")
        elif isinstance(obj, pikepdf.Dictionary):
            _dictionary(obj, parts, emit)
        else:
            emit(obj, parts)
        objects[number] = parts
    return PdfGraph.of(objects)


def _dictionary(
    value: Any, parts: list[bytes | int], emit: Any, skip: Collection[str] = (), extra: bytes = b""
) -> None:
    parts.append(b"<<")
    for key in sorted(value.keys()):
        if key in skip:
            continue
        parts.append(pikepdf.Name(key).unparse() + b" ")
        emit(value[key], parts)
    parts.append(extra + b">>")


def _fixed_timestamp(program: bytes) -> bytes:
    """A font program with its 'modified' time set to its 'created' time.

    WeasyPrint's subsetter stamps the current time into each embedded font, which
    would make two layouts of the same variant differ; output must depend on input
    only.
    """
    try:
        font = TTFont(io.BytesIO(program), recalcTimestamp=False)
        font["head"].modified = font["head"].created
        out = io.BytesIO()
        font.save(out)
    except Exception:  # not a TrueType/OpenType program: leave it as it is
        return program
    return out.getvalue()


def _scalar(value: Any) -> bytes:
    if value is None:
        return b"null"
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, Decimal | float):
        return format(Decimal(value).normalize(), "f").encode()
    if isinstance(value, pikepdf.Object):
        unparsed: bytes = value.unparse()
        return unparsed
    raise TypeError(f"unexpected PDF value {type(value).__name__}")
