"""Check SVG assets: a drawing, not a document that runs or fetches anything.

Parsed with expat directly (namespace-aware), with document type declarations
refused before any entity could be declared, let alone expanded (billion laughs,
external entities). Refused: elements outside the SVG drawing allow-list (so
``script``, ``foreignObject``, ``image``, animation and foreign namespaces), event
handler attributes, any ``href`` that is not a ``#fragment`` of the same file, any
``url(...)`` in an attribute or in CSS that is not a ``#fragment``.
"""

from __future__ import annotations

from xml.parsers import expat

from dispatch.creatives.css import Where, check_declarations, check_stylesheet
from dispatch.creatives.problems import Problem
from dispatch.creatives.refs import check_ref

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ELEMENTS = frozenset(
    {"svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line",
     "polyline", "polygon", "text", "tspan", "use", "symbol", "linearGradient",
     "radialGradient", "stop", "clipPath", "mask", "pattern", "style", "metadata", "filter",
     "feGaussianBlur", "feOffset", "feBlend", "feColorMatrix", "feComposite", "feFlood",
     "feMerge", "feMergeNode", "feMorphology"}
)  # fmt: skip
_ALLOWED_ATTRIBUTE_NS = frozenset({"", XLINK_NS, "http://www.w3.org/XML/1998/namespace"})
_SEP = "\x1f"


class _Refused(Exception):
    pass


def check_svg(data: bytes, file: str) -> list[Problem]:
    """Every problem found in one SVG file (parsing stops at a document type)."""
    return _Checker(file).run(data)


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.parser = expat.ParserCreate(namespace_separator=_SEP)
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.entity
        self.parser.ExternalEntityRefHandler = self.external
        self.parser.ProcessingInstructionHandler = self.instruction
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.style: list[str] | None = None
        self.style_line = 0
        self.depth = 0
        self.root_seen = False

    def line(self) -> int:
        return int(self.parser.CurrentLineNumber)

    def fail(self, reason: str) -> None:
        self.problems.append(Problem(self.file, self.line(), reason))

    def run(self, data: bytes) -> list[Problem]:
        try:
            self.parser.Parse(data, True)
        except _Refused:
            pass
        except expat.ExpatError as exc:
            self.problems.append(
                Problem(
                    self.file, exc.lineno, f"not well-formed SVG: {expat.ErrorString(exc.code)}"
                )
            )
        if not self.root_seen and not self.problems:
            self.problems.append(Problem(self.file, None, "no <svg> element"))
        return self.problems

    def doctype(self, *_: object) -> None:
        self.fail("document type declarations are not allowed in SVG")
        raise _Refused

    def entity(self, *_: object) -> None:
        self.fail("entity declarations are not allowed in SVG")
        raise _Refused

    def external(self, *_: object) -> int:
        self.fail("external entities are not allowed in SVG")
        raise _Refused

    def instruction(self, target: str, data: str) -> None:
        if target.lower() != "xml-stylesheet":
            return
        self.fail("<?xml-stylesheet?> is not allowed in SVG")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(_SEP)
        if self.depth == 0:
            self.root_seen = True
            if (namespace, local) != (SVG_NS, "svg"):
                self.fail(f"root element must be an SVG <svg> element, not <{local}>")
        self.depth += 1
        if namespace != SVG_NS:
            self.fail(f"element <{local}> from namespace {namespace or '(none)'!r} is not allowed")
        elif local not in ELEMENTS:
            self.fail(f"SVG element <{local}> is not allowed")
        for key, value in attrs.items():
            self.attribute(local, key, value)
        if local == "style":
            self.style = []
            self.style_line = self.line()

    def attribute(self, element: str, key: str, value: str) -> None:
        namespace, _, local = key.rpartition(_SEP)
        if namespace not in _ALLOWED_ATTRIBUTE_NS:
            self.fail(
                f"<{element}>: attribute {local!r} from namespace {namespace!r} is not allowed"
            )
        elif local.lower().startswith("on"):
            self.fail(f"<{element}>: event handler attribute {local!r} is not allowed")
        elif local == "href":
            reason = check_ref(value, base="", files=(), assets=False)
            if reason:
                self.fail(f"<{element} href>: {reason}")
        elif local == "style":
            self.declarations(value, self.line())
        elif "url(" in value.lower():
            self.declarations(f"x: {value}", self.line())

    def declarations(self, text: str, line: int) -> None:
        self.problems.extend(check_declarations(text, self.where(line)))

    def where(self, line: int) -> Where:
        return Where(self.file, line, "", (), assets=False)

    def end(self, name: str) -> None:
        self.depth -= 1
        if name.rpartition(_SEP)[2] == "style" and self.style is not None:
            self.problems.extend(check_stylesheet("".join(self.style), self.where(self.style_line)))
            self.style = None

    def text(self, data: str) -> None:
        if self.style is not None:
            self.style.append(data)
