"""The batch PDF: thousands of letters in one file, written as a stream.

WeasyPrint never runs here. Each variant page (frame + body) is written once as a
Form XObject; every letter page is a tiny content stream that draws that form and
stamps the address and personal fields with a TrueType font embedded once per batch
(Type0/CIDFontType2, Identity-H, subset to the glyphs the batch needs, ``/W`` widths
and a ToUnicode map so text extracts exactly). Objects are written as they are made,
so memory does not grow with the batch beyond a few bytes per page for the index.

Letters are printed in postal presort order and each is a PDF/VT-style document part
(``/DPartRoot``, one ``/DPart`` per letter with its sequence number) with its own page
labels (``17/1``, ``17/2``), so the print house can address a letter by its sequence
number without any member id.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import BinaryIO, NamedTuple, overload

from dispatch.errors import DispatchError, InputError
from dispatch.register.tokens import CODE_ALPHABET, CODE_LENGTH, format_code, read_code
from dispatch.rendering.embed import write_font
from dispatch.rendering.fonts import stamp_font
from dispatch.rendering.layout import A4, SenderInfo
from dispatch.rendering.pdfwriter import PdfWriter, literal, num, ref
from dispatch.rendering.postal import Recipient, address_lines, check_language, presort_key
from dispatch.rendering.qr import QrTable, qr_table
from dispatch.rendering.stamping import Stamper, StampFace
from dispatch.rendering.variant import Variant, render_variant

#: Page-tree and page-label nodes hold at most this many entries each (readers
#: and PDF/A validators dislike very long arrays).
NODE_SIZE = 512
_NO_FIELDS: Mapping[str, str] = MappingProxyType({})
_MEDIA_BOX = f"[0 0 {num(A4[0])} {num(A4[1])}]"


class Letter(NamedTuple):
    """One letter of a batch: which variant, to whom, and its personal field values.

    ``fields`` maps placeholder names to text; ``first_name`` defaults to the
    recipient's. ``code`` is the letter's preference-centre code
    (:func:`dispatch.register.tokens.letter_code`), printed in the objection notice with
    its QR code when the variant's layout has room for one.
    """

    key: Hashable
    recipient: Recipient
    fields: Mapping[str, str] = _NO_FIELDS
    code: str | None = None


class LetterPages(NamedTuple):
    """Where a letter is in the batch PDF (pages count from 1)."""

    sequence_no: int
    first_page: int
    page_count: int
    #: The letter's position in the ``letters`` given to :func:`write_batch`, so the
    #: caller can map sequence numbers back to its own records.
    input_index: int


class BatchIndex(Sequence[LetterPages]):
    """The letters of a batch in print order; compact (a few bytes per letter)."""

    def __init__(self) -> None:
        self._first = array("I")
        self._count = array("H")
        self._input = array("I")

    def _add(self, first_page: int, page_count: int, input_index: int) -> None:
        self._first.append(first_page)
        self._count.append(page_count)
        self._input.append(input_index)

    @property
    def pages(self) -> int:
        return self._first[-1] + self._count[-1] - 1 if self._first else 0

    def __len__(self) -> int:
        return len(self._first)

    @overload
    def __getitem__(self, i: int) -> LetterPages: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[LetterPages]: ...
    def __getitem__(self, i: int | slice) -> LetterPages | Sequence[LetterPages]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return LetterPages(i + 1, self._first[i], self._count[i], self._input[i])

    def __iter__(self) -> Iterator[LetterPages]:
        for i in range(len(self)):
            yield LetterPages(i + 1, self._first[i], self._count[i], self._input[i])


class _PageTree:
    """Pages grouped under intermediate nodes, each written as soon as it is full."""

    def __init__(self, writer: PdfWriter, root: int) -> None:
        self._writer, self.root = writer, root
        self._nodes: list[tuple[int, int]] = []  # (object number, page count)
        self._node = writer.reserve()
        self._kids: list[int] = []

    def parent_for_next_page(self) -> int:
        if len(self._kids) == NODE_SIZE:
            self._close_node()
            self._node = self._writer.reserve()
        return self._node

    def add(self, page: int) -> None:
        self._kids.append(page)

    def _close_node(self) -> None:
        kids = " ".join(ref(k) for k in self._kids)
        self._writer.write(
            self._node,
            f"<</Type/Pages/Parent {ref(self.root)}/Kids[{kids}]/Count {len(self._kids)}>>",
        )
        self._nodes.append((self._node, len(self._kids)))
        self._kids = []

    def close(self) -> None:
        self._close_node()
        kids = " ".join(ref(n) for n, _ in self._nodes)
        total = sum(count for _, count in self._nodes)
        self._writer.write(self.root, f"<</Type/Pages/Kids[{kids}]/Count {total}>>")


def write_batch(
    variants: Mapping[Hashable, Variant],
    letters: Iterable[
        Letter | tuple[Hashable, Recipient] | tuple[Hashable, Recipient, Mapping[str, str]]
    ],
    out: BinaryIO,
    *,
    presorted: bool = False,
) -> BatchIndex:
    """Write one batch PDF of ``letters`` to ``out``; return where each letter is.

    Letters are printed in postal presort order (:func:`~.postal.presort_key`). By
    default they are sorted here, which holds the batch's recipients in memory; with
    ``presorted=True`` they are streamed through as given, and a letter out of order
    raises :class:`InputError`, so memory stays flat however long the batch.

    Raises :class:`InputError` (naming the letter's input position, never its text)
    for an unknown variant key, a language mismatch, an unprintable address or
    character, or personal text that does not fit its box. ``out`` then holds an
    incomplete file that must be discarded.
    """
    if not variants:
        raise InputError("a batch needs at least one variant")
    batch = _Batch(PdfWriter(out), variants)
    for input_index, letter in _ordered(letters, presorted):
        try:
            batch.add(input_index, letter)
        except DispatchError as exc:
            exc.where = f"letter {input_index}" + (f", {exc.where}" if exc.where else "")
            # The caller maps the position back to its own record (e.g. to fail it).
            exc.letter_index = input_index  # type: ignore[attr-defined]
            raise
    if not batch.index:
        raise InputError("a batch needs at least one letter")
    batch.finish()
    return batch.index


class _Batch:
    """One batch PDF being written: shared objects first, then letter by letter."""

    def __init__(self, writer: PdfWriter, variants: Mapping[Hashable, Variant]) -> None:
        self.writer, self.variants = writer, variants
        self.catalog, pages_root, self.resources, self.dpart_node = (
            writer.reserve() for _ in range(4)
        )
        self.faces = _faces(writer, variants)
        self.forms = _write_variant_forms(writer, variants)
        xobjects = "".join(f"/{name} {ref(number)}" for name, number in self.forms.values())
        fonts = "".join(f"/{face.resource} {ref(number)}" for face, number in self.faces.values())
        writer.write(
            self.resources, f"<</XObject<<{xobjects}>>/Font<<{fonts}>>/ProcSet[/PDF/Text]>>"
        )
        self.stamper = Stamper({style: face for style, (face, _) in self.faces.items()})
        self.tree = _PageTree(writer, pages_root)
        self.index = BatchIndex()
        self.leaves = array("I")  # each letter's document part, for the DPart tree

    def add(self, input_index: int, letter: Letter) -> None:
        try:
            variant = self.variants[letter.key]
        except (KeyError, TypeError):
            raise InputError("no variant with this key") from None
        recipient = letter.recipient
        if check_language(recipient) != variant.language:
            raise InputError(
                f"the recipient reads {recipient.language}, the variant is {variant.language}"
            )
        address = address_lines(recipient)
        fields = {"first_name": recipient.first_name, **letter.fields}
        code = self._code(variant, letter.code)
        writer = self.writer
        leaf = writer.reserve()
        pages = [writer.reserve() for _ in variant.pages]
        for number, (page, page_obj) in enumerate(zip(variant.pages, pages, strict=True)):
            content = writer.reserve()
            form = self.forms[letter.key, number][0]
            stamped = self.stamper.page(page, form, address, fields, code)
            # Level 1: half the time of level 6 on a letter page, 5 % larger.
            writer.stream(content, "", stamped, level=1)
            writer.write(
                page_obj,
                f"<</Type/Page/Parent {ref(self.tree.parent_for_next_page())}"
                f"/MediaBox{_MEDIA_BOX}/Resources {ref(self.resources)}"
                f"/Contents {ref(content)}/DPart {ref(leaf)}>>",
            )
            self.tree.add(page_obj)
        self.index._add(self.index.pages + 1, len(pages), input_index)
        writer.write(
            leaf,
            f"<</Type/DPart/Parent {ref(self.dpart_node)}/Start {ref(pages[0])}"
            f"/End {ref(pages[-1])}"
            f"/DPM<</Letter<</SequenceNo {len(self.index)}/PageCount {len(pages)}>>>>>>",
        )
        self.leaves.append(leaf)

    def _code(self, variant: Variant, code: str | None) -> tuple[str, QrTable] | None:
        """The code as printed and the QR table of the variant's address, if any."""
        if code is None:
            return None
        if variant.code_url is None:
            raise InputError("the letter has a code but its layout has no room for one")
        if read_code(code) != code:
            raise InputError("the letter's code is not a preference-centre code")
        return format_code(code), qr_table(variant.code_url, CODE_LENGTH, CODE_ALPHABET)

    def finish(self) -> None:
        writer = self.writer
        self.tree.close()
        for face, number in self.faces.values():
            write_font(writer, number, face.font, face.font.gids(face.used))
        groups = " ".join(
            "[" + " ".join(ref(leaf) for leaf in self.leaves[i : i + NODE_SIZE]) + "]"
            for i in range(0, len(self.leaves), NODE_SIZE)
        )
        writer.write(self.dpart_node, f"<</Type/DPart/DParts[{groups}]>>")
        dpart_root = writer.add(
            f"<</Type/DPartRoot/DPartRootNode {ref(self.dpart_node)}"
            "/RecordLevel 1/NodeNameList[/Batch/Letter]>>"
        )
        labels = _write_page_labels(writer, self.index)
        info = writer.add("<</Producer(dispatch letter engine)>>")
        writer.write(
            self.catalog,
            f"<</Type/Catalog/Pages {ref(self.tree.root)}/PageLabels {ref(labels)}"
            f"/DPartRoot {ref(dpart_root)}>>",
        )
        writer.close(self.catalog, info)


def _ordered(letters: Iterable[Sequence[object]], presorted: bool) -> Iterator[tuple[int, Letter]]:
    numbered = ((i, Letter(*letter)) for i, letter in enumerate(letters))  # type: ignore[arg-type]
    if not presorted:
        yield from sorted(numbered, key=lambda item: (presort_key(item[1].recipient), item[0]))
        return
    previous: tuple[str, ...] | None = None
    for i, letter in numbered:
        key = presort_key(letter.recipient)
        if previous is not None and key < previous:
            raise InputError("letters are not in presort order", where=f"letter {i}")
        previous = key
        yield i, letter


def _faces(
    writer: PdfWriter, variants: Mapping[Hashable, Variant]
) -> dict[str, tuple[StampFace, int]]:
    """The faces the batch stamps with, each with its font object number (written last)."""
    styles = {"regular"} | {style for v in variants.values() for style in v.styles}
    ordered = sorted(styles, key=lambda s: (s != "regular", s))
    return {
        style: (StampFace(f"F{n}", stamp_font(style)), writer.reserve())
        for n, style in enumerate(ordered, start=1)
    }


def _write_variant_forms(
    writer: PdfWriter, variants: Mapping[Hashable, Variant]
) -> dict[tuple[Hashable, int], tuple[str, int]]:
    graphs: dict[str, int] = {}
    forms: dict[tuple[Hashable, int], tuple[str, int]] = {}
    for key, variant in variants.items():
        for number, page in enumerate(variant.pages):
            for graph in (page.frame, page.body):
                if graph.digest not in graphs:
                    graphs[graph.digest] = graph.write(writer)
            body = page.body_rect
            content = f"q 1 0 0 1 {num(body.x)} {num(body.y)} cm /B Do Q\n/S Do".encode("ascii")
            form = writer.reserve()
            writer.stream(
                form,
                f"/Type/XObject/Subtype/Form/BBox{_MEDIA_BOX}"
                f"/Resources<</XObject<</B {ref(graphs[page.body.digest])}"
                f"/S {ref(graphs[page.frame.digest])}>>>>",
                content,
            )
            forms[key, number] = (f"V{len(forms)}", form)
    return forms


def _write_page_labels(writer: PdfWriter, index: BatchIndex) -> int:
    """Page labels ``<sequence>/<page>`` as a two-level number tree."""
    kids = []
    for start in range(0, len(index), NODE_SIZE):
        chunk = index[start : start + NODE_SIZE]
        nums = " ".join(
            f"{letter.first_page - 1}<</S/D/P{literal(f'{letter.sequence_no}/')}>>"
            for letter in chunk
        )
        limits = f"[{chunk[0].first_page - 1} {chunk[-1].first_page - 1}]"
        kids.append(writer.add(f"<</Limits{limits}/Nums[{nums}]>>"))
    return writer.add(f"<</Kids[{' '.join(ref(k) for k in kids)}]>>")


def render_single_letter(
    body_html: str,
    assets: Mapping[str, bytes],
    recipient: Recipient,
    *,
    fields: Mapping[str, str] = _NO_FIELDS,
    sender: SenderInfo | None = None,
    code: str | None = None,
) -> bytes:
    """One letter as a PDF (previews, tests): the batch path with a batch of one."""
    variant = render_variant(body_html, assets, language=recipient.language, sender=sender)
    out = io.BytesIO()
    write_batch({"preview": variant}, [Letter("preview", recipient, fields, code)], out)
    return out.getvalue()
