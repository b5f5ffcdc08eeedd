"""``creative.yaml``: the creative's name, channels, and per language subject and texts.

::

    name: nordic-air-spring
    channels: [post, email]
    fi:
      subject: Kevään lentotarjoukset        # required when channels has email
      texts:
        headline: Kevät kutsuu
    sv:
      subject: Vårens flygerbjudanden
      texts:
        headline: Våren kallar

Both languages are required and must define the same text keys. The file is read
as a YAML node tree (not with ``safe_load``) so that every problem carries its line,
and anchors and aliases are refused: they are how a small YAML file expands into a
huge structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from dispatch.creatives.archive import MANIFEST
from dispatch.creatives.problems import Problem
from dispatch.db.types import Channel, Language

CHANNELS = (Channel.POST.value, Channel.EMAIL.value)
LANGUAGES = (Language.FI.value, Language.SV.value)
MAX_MANIFEST_BYTES = 64 * 1024
MAX_TEXTS = 50
MAX_TEXT_CHARS = 2000
MAX_SUBJECT_CHARS = 200
MAX_EVENTS = 5000
#: creative.yaml nests four levels (language, texts, key); far more is a mistake or worse.
MAX_DEPTH = 16

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")
TEXT_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class LanguageTexts:
    subject: str | None
    texts: Mapping[str, str]


@dataclass(frozen=True)
class Manifest:
    """The parsed, validated ``creative.yaml``."""

    name: str
    channels: tuple[str, ...]
    languages: Mapping[str, LanguageTexts]

    def texts(self, language: str) -> Mapping[str, str]:
        return self.languages[language].texts

    def subject(self, language: str) -> str | None:
        return self.languages[language].subject

    def as_json(self) -> dict[str, Any]:
        """The form stored in ``creative_versions.manifest``."""
        doc: dict[str, Any] = {"name": self.name, "channels": list(self.channels)}
        for lang, entry in self.languages.items():
            doc[lang] = {"subject": entry.subject, "texts": dict(entry.texts)}
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Manifest:
        return cls(
            name=str(doc["name"]),
            channels=tuple(doc["channels"]),
            languages=MappingProxyType(
                {
                    lang: LanguageTexts(doc[lang]["subject"], MappingProxyType(doc[lang]["texts"]))
                    for lang in LANGUAGES
                }
            ),
        )


def parse_manifest(data: bytes) -> tuple[Manifest | None, list[Problem]]:
    """Parse and check ``creative.yaml``; the manifest is None when it has problems."""
    if len(data) > MAX_MANIFEST_BYTES:
        return None, [_problem(None, f"larger than {MAX_MANIFEST_BYTES} bytes")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_problem(None, f"not UTF-8 (byte {exc.start})")]
    try:
        problems = list(_event_problems(text))
        if problems:
            return None, problems
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return None, [_problem(line, f"not valid YAML: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [_problem(None, f"not valid YAML: {exc}")]
    checker = _Checker()
    manifest = checker.manifest(root)
    return (manifest if not checker.problems else None), checker.problems


def _problem(line: int | None, reason: str) -> Problem:
    return Problem(MANIFEST, line, reason)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _event_problems(text: str) -> Iterator[Problem]:
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        if count > MAX_EVENTS:
            yield _problem(None, "too large a document")
            return
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                # PyYAML's composer recurses per level: 2,000 nested lists, a few
                # kilobytes, ended in a RecursionError.
                yield _problem(line, f"nested deeper than {MAX_DEPTH} levels")
                return
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            yield _problem(line, "YAML anchors and aliases are not allowed")
            return
        if isinstance(event, yaml.DocumentStartEvent) and count > 1:
            yield _problem(line, "only one YAML document is allowed")
            return


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, node: yaml.Node | None, reason: str) -> None:
        self.problems.append(_problem(_line(node) if node is not None else None, reason))

    def mapping(self, node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return {}
        result: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) and key.tag == _STR else None
            if name is None:
                self.fail(key, f"{what}: keys must be text")
            elif name in result:
                self.fail(key, f"{what}: duplicate key {name!r}")
            elif name not in allowed and allowed:
                self.fail(
                    key, f"{what}: unknown key {name!r} (allowed: {', '.join(sorted(allowed))})"
                )
            else:
                result[name] = value
        return result

    def text(self, node: yaml.Node, what: str, limit: int, *, multiline: bool) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            self.fail(node, f"{what} must be text")
            return None
        value = str(node.value)
        if not value.strip():
            self.fail(node, f"{what} is empty")
        elif len(value) > limit:
            self.fail(node, f"{what} longer than {limit} characters")
        elif _CONTROL.search(value) or (not multiline and ("\n" in value or "\t" in value)):
            self.fail(node, f"{what} contains a control character or line break")
        else:
            return value
        return None

    def manifest(self, root: yaml.Node | None) -> Manifest | None:
        if root is None:
            self.fail(None, "empty file")
            return None
        top = self.mapping(root, "creative.yaml", {"name", "channels", *LANGUAGES})
        if not top:
            return None
        name = self.name(top.get("name"), root)
        channels = self.channels(top.get("channels"), root)
        languages: dict[str, LanguageTexts] = {}
        for lang in LANGUAGES:
            if lang not in top:
                self.fail(root, f"language {lang!r} is missing")
                continue
            entry = self.language(top[lang], lang, "email" in channels)
            if entry is not None:
                languages[lang] = entry
        self.same_keys(languages, top)
        if self.problems or name is None:
            return None
        return Manifest(name, channels, MappingProxyType(languages))

    def name(self, node: yaml.Node | None, root: yaml.Node) -> str | None:
        if node is None:
            self.fail(root, "name is missing")
            return None
        value = self.text(node, "name", 63, multiline=False)
        if value is not None and not NAME.match(value):
            self.fail(node, "name: use lowercase letters, digits and '-' (e.g. spring-offer)")
            return None
        return value

    def channels(self, node: yaml.Node | None, root: yaml.Node) -> tuple[str, ...]:
        if node is None:
            self.fail(root, "channels is missing")
            return ()
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, f"channels must be a non-empty list of {' and '.join(CHANNELS)}")
            return ()
        found: list[str] = []
        for item in node.value:
            value = item.value if isinstance(item, yaml.ScalarNode) else None
            if value not in CHANNELS:
                self.fail(item, f"channels: unknown channel {value!r} (use {', '.join(CHANNELS)})")
            elif value in found:
                self.fail(item, f"channels: {value} listed twice")
            else:
                found.append(value)
        return tuple(c for c in CHANNELS if c in found)

    def language(self, node: yaml.Node, lang: str, email: bool) -> LanguageTexts | None:
        entry = self.mapping(node, lang, {"subject", "texts"})
        subject = None
        if "subject" in entry:
            subject = self.text(
                entry["subject"], f"{lang}.subject", MAX_SUBJECT_CHARS, multiline=False
            )
        elif email:
            self.fail(node, f"{lang}.subject is required for e-mail")
        texts: dict[str, str] = {}
        if "texts" in entry:
            items = self.mapping(entry["texts"], f"{lang}.texts", set())
            if len(items) > MAX_TEXTS:
                self.fail(entry["texts"], f"{lang}.texts: more than {MAX_TEXTS} texts")
            for key, value_node in items.items():
                if not TEXT_KEY.match(key):
                    self.fail(value_node, f"{lang}.texts: bad key {key!r} (use a-z, 0-9, _)")
                    continue
                value = self.text(value_node, f"{lang}.texts.{key}", MAX_TEXT_CHARS, multiline=True)
                if value is not None:
                    texts[key] = value
        return LanguageTexts(subject, MappingProxyType(texts))

    def same_keys(self, languages: Mapping[str, LanguageTexts], top: dict[str, yaml.Node]) -> None:
        if len(languages) != len(LANGUAGES):
            return
        keys = {lang: set(entry.texts) for lang, entry in languages.items()}
        for lang in LANGUAGES:
            others = set().union(*(k for other, k in keys.items() if other != lang))
            for missing in sorted(others - keys[lang]):
                self.fail(
                    top[lang], f"{lang}.texts.{missing} is missing (the other language has it)"
                )
