"""Check CSS (files, ``<style>`` elements, ``style`` attributes) with tinycss2.

Every component value is walked, however deeply nested, so a reference cannot hide
in a nested block or behind CSS escapes (tinycss2 decodes them):

- ``url(...)``, ``src(...)`` and the strings in ``image-set(...)`` must be bundle
  references (:mod:`dispatch.creatives.refs`); ``local()`` fonts are refused;
- ``@import``, ``@namespace``, ``@document`` and other at-rules outside a short
  allow-list are refused;
- ``expression()``, ``behavior`` and ``-moz-binding`` (script in CSS) are refused;
- CSS that does not parse is refused, since browsers and WeasyPrint may recover from
  broken CSS differently than this check does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import tinycss2  # type: ignore[import-untyped]
from tinycss2 import ast

from dispatch.creatives.problems import Problem
from dispatch.creatives.refs import AssetKind, check_ref

AT_RULES = frozenset({"media", "font-face", "page", "supports", "keyframes", "charset"})
_URL_FUNCTIONS = frozenset({"url", "src"})
_IMAGE_SET = frozenset({"image-set", "-webkit-image-set", "image", "cross-fade"})
_SCRIPT_FUNCTIONS = frozenset({"expression", "javascript", "-moz-binding"})
_BLOCKS = (ast.ParenthesesBlock, ast.SquareBracketsBlock, ast.CurlyBracketsBlock)
_SCRIPT_PROPERTIES = frozenset({"behavior", "-ms-behavior", "-moz-binding"})


@dataclass(frozen=True)
class Where:
    """Where a piece of CSS sits: its file, the line it starts on, the folder refs start from."""

    file: str
    line: int
    base: str
    files: Collection[str]
    assets: bool = True


def check_stylesheet(text: str, where: Where) -> list[Problem]:
    """Problems in a whole stylesheet (a .css file or a ``<style>`` element)."""
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    return list(_Walker(where).nodes(rules))


def check_declarations(text: str, where: Where) -> list[Problem]:
    """Problems in a ``style`` attribute."""
    decls = tinycss2.parse_blocks_contents(text, skip_comments=True, skip_whitespace=True)
    return list(_Walker(where).nodes(decls))


#: Blocks inside blocks that the checker follows. Real stylesheets nest two or three
#: (an @media around a rule around a function); "a{" repeated 50,000 times, 100 KB,
#: ended in a RecursionError.
MAX_CSS_DEPTH = 32


class _Walker:
    def __init__(self, where: Where) -> None:
        self.where = where
        self.depth = 0

    def problem(self, node: ast.Node, reason: str) -> Problem:
        return Problem(self.where.file, self.where.line + (node.source_line or 1) - 1, reason)

    def nodes(self, items: Iterable[ast.Node]) -> Iterator[Problem]:
        self.depth += 1
        try:
            for node in items:
                if self.depth > MAX_CSS_DEPTH:
                    yield self.problem(node, f"CSS nested deeper than {MAX_CSS_DEPTH} levels")
                    return
                yield from self.node(node)
        finally:
            self.depth -= 1

    def node(self, node: ast.Node) -> Iterator[Problem]:
        if isinstance(node, ast.ParseError):
            yield self.problem(node, f"CSS does not parse: {node.message}")
        elif isinstance(node, ast.AtRule):
            if node.lower_at_keyword not in AT_RULES:
                yield self.problem(node, f"@{node.lower_at_keyword} is not allowed in CSS")
            yield from self.nodes(node.prelude)
            yield from self.nodes(node.content or ())
        elif isinstance(node, ast.AtKeywordToken):
            if node.lower_value not in AT_RULES:
                yield self.problem(node, f"@{node.lower_value} is not allowed in CSS")
        elif isinstance(node, ast.QualifiedRule):
            yield from self.nodes(node.prelude)
            yield from self.nodes(node.content)
        elif isinstance(node, ast.Declaration):
            if node.lower_name in _SCRIPT_PROPERTIES:
                yield self.problem(node, f"CSS property {node.name!r} is not allowed")
            yield from self.nodes(node.value)
        elif isinstance(node, ast.URLToken):
            yield from self.ref(node, node.value, AssetKind.ANY)
        elif isinstance(node, ast.FunctionBlock):
            yield from self.function(node)
        elif isinstance(node, _BLOCKS):
            yield from self.nodes(node.content)
        elif isinstance(node, ast.IdentToken) and node.lower_value in _SCRIPT_PROPERTIES:
            yield self.problem(node, f"CSS {node.value!r} is not allowed")

    def function(self, node: ast.FunctionBlock) -> Iterator[Problem]:
        name = node.lower_name
        args = [a for a in node.arguments if not isinstance(a, ast.WhitespaceToken | ast.Comment)]
        if name in _SCRIPT_FUNCTIONS:
            yield self.problem(node, f"CSS {name}() is not allowed")
        elif name == "local":
            yield self.problem(node, "local() fonts are not allowed: ship the font in assets/")
        elif name in _URL_FUNCTIONS:
            if len(args) >= 1 and isinstance(args[0], ast.StringToken):
                yield from self.ref(node, args[0].value, AssetKind.ANY)
            else:
                yield self.problem(node, f"CSS {name}() must hold one quoted reference")
        elif name in _IMAGE_SET:
            for arg in args:
                if isinstance(arg, ast.StringToken):
                    yield from self.ref(node, arg.value, AssetKind.IMAGE)
            yield from self.nodes(node.arguments)
        else:
            yield from self.nodes(node.arguments)

    def ref(self, node: ast.Node, value: str, kind: AssetKind) -> Iterator[Problem]:
        where = self.where
        reason = check_ref(
            value, base=where.base, files=where.files, kind=kind, assets=where.assets
        )
        if reason:
            yield self.problem(node, reason)
