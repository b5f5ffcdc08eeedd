"""Preflight: what a print-ready letter PDF must be before it leaves the dispatcher.

* every page is A4 (595.28 x 841.89 pt, within half a point);
* every font is embedded (Type 3 fonts are their own glyph procedures);
* nothing points outside the file: no URI, Launch, GoToR/GoToE, SubmitForm or
  ImportData action, no JavaScript, no reference XObject or external stream, no
  embedded files.

Used by the tests on every kind of letter, and cheap enough to run on a batch.
"""

from __future__ import annotations

import io

import pikepdf

A4_POINTS = (595.28, 841.89)
TOLERANCE = 0.5
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
_EXTERNAL_ACTIONS = frozenset(
    {"/URI", "/Launch", "/GoToR", "/GoToE", "/SubmitForm", "/ImportData", "/JavaScript"}
)


def preflight(pdf_bytes: bytes) -> list[str]:
    """The problems that stop ``pdf_bytes`` from being printed; empty when fine."""
    problems: list[str] = []
    try:
        pdf = pikepdf.open(io.BytesIO(pdf_bytes))
    except pikepdf.PdfError as exc:
        return [f"not a readable PDF: {exc}"]
    with pdf:
        for number, page in enumerate(pdf.pages, start=1):
            box = [float(v) for v in page.mediabox]
            size = (box[2] - box[0], box[3] - box[1])
            if any(abs(got - want) > TOLERANCE for got, want in zip(size, A4_POINTS, strict=True)):
                problems.append(
                    f"page {number}: media box {size[0]:.2f} x {size[1]:.2f} pt is not A4"
                )
        if "/Names" in pdf.Root and any(
            key in pdf.Root.Names for key in ("/JavaScript", "/EmbeddedFiles")
        ):
            problems.append("document-level JavaScript or embedded files")
        for key in ("/OpenAction", "/AA", "/URI"):
            if key in pdf.Root:
                problems.append(f"catalog has {key}")
        for obj in pdf.objects:
            for part in _direct_parts(obj):
                problems.extend(_object_problems(part))
    return sorted(set(problems))


def _direct_parts(obj: pikepdf.Object) -> list[pikepdf.Object]:
    """``obj`` and every dictionary nested in it directly (indirect ones come on their own)."""
    found: list[pikepdf.Object] = []
    stack = [obj]
    while stack:
        current = stack.pop()
        if isinstance(current, pikepdf.Dictionary | pikepdf.Stream):
            found.append(current)
            children = [value for _, value in current.items()]
        elif isinstance(current, pikepdf.Array):
            children = list(current)
        else:
            continue
        stack.extend(
            child
            for child in children
            if isinstance(child, pikepdf.Object) and not child.is_indirect
        )
    return found


def _object_problems(obj: pikepdf.Object) -> list[str]:
    found = []
    kind, subtype, action = _name(obj, "/Type"), _name(obj, "/Subtype"), _name(obj, "/S")
    if "/JS" in obj or subtype == "/JavaScript":
        found.append("JavaScript")
    if action in _EXTERNAL_ACTIONS:
        found.append(f"external action {action}")
    if "/URI" in obj:
        found.append("URI reference")
    if subtype == "/Form" and "/Ref" in obj:
        found.append("reference XObject (content from another file)")
    if isinstance(obj, pikepdf.Stream) and ("/F" in obj or "/FFilter" in obj):
        found.append("stream with external data (/F)")
    if kind == "/Filespec" or "/EF" in obj:
        found.append("embedded or external file")
    if kind == "/Font" and subtype not in ("/Type0", "/Type3"):
        # Type 0 fonts are checked through their descendant (a CIDFont dictionary).
        descriptor = obj.get("/FontDescriptor")
        if descriptor is None or not any(key in descriptor for key in _FONT_FILES):
            found.append(f"font {_name(obj, '/BaseFont')} is not embedded")
    return found


def _name(obj: pikepdf.Object, key: str) -> str | None:
    value = obj.get(key)
    return str(value) if isinstance(value, pikepdf.Name) else None
