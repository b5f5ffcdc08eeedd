"""Check the HTML of partner templates with the standard library's ``html.parser``.

HTML templates are checked twice. First the *source*: every ``{{ ... }}`` becomes one
marker character and every ``{% ... %}`` another, so the HTML structure is visible
and we can require that template code never builds markup: no template code in a
tag or attribute name, in a URL or ``style`` attribute, in ``<style>``, or unquoted
in an attribute value (an escaped value cannot break out of quotes). Then the output
of a trial render with synthetic recipients, in each language, is checked again.

The rules, for both passes:

- elements from an allow-list only; ``script``, ``iframe``, ``object``, ``embed``,
  ``form`` and its controls, ``base``, ``meta``, media, ``foreignObject`` and friends
  are named explicitly in the error;
- no event-handler attribute (``on*``), ``srcdoc``, ``http-equiv``, form actions;
- URL attributes (``src``, ``href``, ``srcset``, ``poster``, ``background``, SVG
  ``href``/``xlink:href`` ...) must be bundle references (:mod:`dispatch.creatives.refs`);
  links (``<a href>``) may only be ``#fragments``, since a link is a tracking channel;
  ``<link>`` only as ``rel="stylesheet"`` to a bundle CSS file;
- ``style`` attributes and ``<style>`` are checked as CSS (:mod:`dispatch.creatives.css`);
- no tracking pixels: an ``<img>`` with a width or height of 2 or less;
- no conditional comments, processing instructions or CDATA (places where mail
  clients look for markup that this parser would not see).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html.parser import HTMLParser

from jinja2 import Environment, TemplateSyntaxError

from dispatch.creatives.context import PLACEHOLDER_ATTRIBUTE, PLACEHOLDER_CLASS, PLACEHOLDERS
from dispatch.creatives.css import Where, check_declarations, check_stylesheet
from dispatch.creatives.problems import Problem
from dispatch.creatives.refs import AssetKind, check_ref

EXPR = "\ue000"  # stands for {{ ... }} in the source pass
BLOCK = "\ue001"  # stands for {% ... %}
_MARKERS = (EXPR, BLOCK)

HTML_ELEMENTS = frozenset(
    {"a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "blockquote", "br",
     "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div",
     "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4",
     "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "link", "main", "mark",
     "ol", "p", "pre", "q", "s", "samp", "section", "small", "span", "strong", "style",
     "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
     "var", "wbr"}
)  # fmt: skip
SVG_ELEMENTS = frozenset(
    {"svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line",
     "polyline", "polygon", "text", "tspan", "use", "symbol", "lineargradient",
     "radialgradient", "stop", "clippath", "mask", "pattern"}
)  # fmt: skip
DENIED = {
    "script": "scripts are not allowed",
    "noscript": "scripts are not allowed",
    "iframe": "frames are not allowed",
    "frame": "frames are not allowed",
    "frameset": "frames are not allowed",
    "object": "embedded objects are not allowed",
    "embed": "embedded objects are not allowed",
    "applet": "embedded objects are not allowed",
    "form": "forms are not allowed",
    "input": "forms are not allowed",
    "button": "forms are not allowed",
    "select": "forms are not allowed",
    "textarea": "forms are not allowed",
    "base": "<base> is not allowed",
    "meta": "<meta> is not allowed (no refresh or redirect)",
    "foreignobject": "SVG foreignObject is not allowed",
    "image": "SVG <image> is not allowed: use <img> with a bundle asset",
    "feimage": "SVG <feImage> is not allowed",
    "animate": "SVG animation is not allowed",
    "set": "SVG animation is not allowed",
    "audio": "media elements are not allowed",
    "video": "media elements are not allowed",
    "source": "media elements are not allowed",
    "track": "media elements are not allowed",
    "html": "write only the body: the system layout provides <html>, <head> and <body>",
    "head": "write only the body: the system layout provides <html>, <head> and <body>",
    "body": "write only the body: the system layout provides <html>, <head> and <body>",
}
FORBIDDEN_ATTRIBUTES = frozenset(
    {"srcdoc", "http-equiv", "action", "formaction", "data", "codebase", "classid",
     "archive", "profile", "manifest", "ping", "icon", "xml:base", "dynsrc", "lowsrc"}
)  # fmt: skip
IMAGE_ATTRIBUTES = frozenset({"src", "background", "poster"})
SRCSET_ATTRIBUTES = frozenset({"srcset", "imagesrcset"})
FRAGMENT_ATTRIBUTES = frozenset({"href", "xlink:href", "cite", "longdesc", "usemap"})
URL_ATTRIBUTES = IMAGE_ATTRIBUTES | SRCSET_ATTRIBUTES | FRAGMENT_ATTRIBUTES | {"style"}
PLACEHOLDER_FIELDS = frozenset(PLACEHOLDERS)

_UNQUOTED = re.compile(r"""=\s*([^\s"'=<>`]+)""")
_MARKUP_START = re.compile(r"<[A-Za-z!?/]")
_TAG_FROM_CODE = re.compile(r"</?\s*[\ue000\ue001]")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)
_LENGTH = re.compile(r"\s*(\d+)")


_LEXER = Environment(
    autoescape=True, trim_blocks=True, lstrip_blocks=True
)  # lexing only (same delimiters as the sandbox); nothing runs


def skeleton(source: str) -> str | None:
    """The template source with ``{{ }}``/``{% %}`` replaced by markers, lines kept.

    None when the template does not lex (the syntax check reports that).
    """
    out: list[str] = []
    try:
        for _, kind, value in _LEXER.lexer.tokeniter(source, None):
            if kind == "data":
                out.append(value)
                continue
            if kind == "variable_begin":
                out.append(EXPR)
            elif kind == "block_begin":
                out.append(BLOCK)
            out.append("\n" * value.count("\n"))
    except TemplateSyntaxError:
        return None
    return "".join(out)


def check_html(text: str, *, file: str, files: Collection[str], source_pass: bool) -> list[Problem]:
    """Every problem in one HTML document (a template skeleton or a rendered body)."""
    checker = _Checker(file, files, source_pass=source_pass)
    for match in _TAG_FROM_CODE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        checker.problems.append(Problem(file, line, "template code cannot build a tag"))
    checker.feed(text)
    checker.close()
    # Browsers and html.parser must agree on where every tag is: a "<" that html.parser
    # did not take as markup is where a mutation (a tag only the browser sees) hides.
    if len(_MARKUP_START.findall(text)) != checker.constructs:
        checker.problems.append(
            Problem(file, None, "ambiguous markup: a '<' that does not start a tag (write &lt;)")
        )
    return checker.problems


class _Checker(HTMLParser):
    def __init__(self, file: str, files: Collection[str], *, source_pass: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.file = file
        self.files = files
        self.source_pass = source_pass
        self.problems: list[Problem] = []
        self.in_style: int | None = None
        self.constructs = 0  # tags, comments and declarations seen

    def fail(self, reason: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, line or self.getpos()[0], reason))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.constructs += 1
        self.start(tag, attrs)

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        if any(m in tag for m in _MARKERS):
            self.fail("template code cannot build a tag name")
            return
        if tag in DENIED:
            self.fail(f"<{tag}>: {DENIED[tag]}")
            return
        if tag not in HTML_ELEMENTS and tag not in SVG_ELEMENTS:
            self.fail(f"<{tag}> is not allowed in a creative")
            return
        raw = self.get_starttag_text() or ""
        if any(EXPR in v or BLOCK in v for v in _UNQUOTED.findall(raw)):
            self.fail(f"<{tag}>: template code in an attribute value needs quotes")
        values = dict(attrs)
        for name, value in attrs:
            self.attribute(tag, name, value, values, line)
        if tag == "style":
            self.in_style = line
        if tag == "link" and (values.get("rel") or "").strip().lower() != "stylesheet":
            self.fail('<link> is allowed only as rel="stylesheet"')

    def attribute(
        self, tag: str, name: str, value: str | None, values: dict[str, str | None], line: int
    ) -> None:
        if any(m in name for m in _MARKERS):
            self.fail(f"<{tag}>: template code is allowed only inside quoted attribute values")
            return
        if name.startswith("on"):
            self.fail(f"<{tag}>: event handler attribute {name!r} is not allowed")
            return
        if name in FORBIDDEN_ATTRIBUTES or name.startswith("xmlns:"):
            self.fail(f"<{tag}>: attribute {name!r} is not allowed")
            return
        if name == PLACEHOLDER_ATTRIBUTE and not self.is_placeholder(tag, value, values):
            self.fail(f"<{tag}>: attribute {name!r} is reserved for the system")
            return
        if value is None:
            return
        if name in URL_ATTRIBUTES and any(m in value for m in _MARKERS):
            self.fail(f"<{tag}>: template code is not allowed in {name!r}")
            return
        if name == "style":
            where = Where(self.file, line, "", self.files)
            self.problems.extend(check_declarations(value, where))
        elif name in SRCSET_ATTRIBUTES:
            for candidate in value.split(","):
                parts = candidate.split()
                self.ref(tag, name, parts[0] if parts else "", AssetKind.IMAGE)
        elif name in IMAGE_ATTRIBUTES:
            self.ref(tag, name, value, AssetKind.IMAGE)
        elif name in FRAGMENT_ATTRIBUTES:
            self.href(tag, name, value, values)
        else:
            for ref in _CSS_URL.findall(value):  # e.g. SVG fill="url(#gradient)"
                self.ref(tag, name, ref, AssetKind.ANY, assets=False)
        if tag == "img" and name in ("width", "height"):
            size = _LENGTH.match(value)
            if size and int(size.group(1)) <= 2:
                self.fail(f"<img {name}={value!r}>: images of 2 pixels or less are not allowed")

    def href(self, tag: str, name: str, value: str, values: dict[str, str | None]) -> None:
        if tag == "link" and name == "href":
            self.ref(tag, name, value, AssetKind.STYLESHEET)
        else:
            self.ref(tag, name, value, AssetKind.ANY, assets=False)

    def ref(self, tag: str, name: str, value: str, kind: AssetKind, *, assets: bool = True) -> None:
        reason = check_ref(value, base="", files=self.files, kind=kind, assets=assets)
        if reason:
            self.fail(f"<{tag} {name}>: {reason}")

    def is_placeholder(self, tag: str, value: str | None, values: dict[str, str | None]) -> bool:
        return (
            not self.source_pass
            and tag == "span"
            and value in PLACEHOLDER_FIELDS
            and values.get("class") == PLACEHOLDER_CLASS
        )

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "style":
            self.in_style = None

    def handle_endtag(self, tag: str) -> None:
        self.constructs += 1
        if tag == "style":
            self.in_style = None

    def handle_data(self, data: str) -> None:
        if self.in_style is not None:
            if any(m in data for m in _MARKERS):
                self.fail("template code is not allowed in <style>")
                return
            if "<" in data:  # foreign content (<svg><style>) would make this markup
                self.fail("'<' is not allowed inside <style>")
                return
            where = Where(self.file, self.getpos()[0], "", self.files)
            self.problems.extend(check_stylesheet(data, where))

    def handle_comment(self, data: str) -> None:
        self.constructs += 1
        if data.lstrip().startswith("[") or "<" in data or any(m in data for m in _MARKERS):
            self.fail("conditional comments and markup in comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.constructs += 1
        self.fail("write only the body: the system layout provides the document type")

    def handle_pi(self, data: str) -> None:
        self.constructs += 1
        self.fail("processing instructions are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.constructs += 1
        self.fail("CDATA sections and declarations are not allowed")
