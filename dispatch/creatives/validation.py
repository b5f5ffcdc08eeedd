"""Validate a bundle's files: every problem at once, and nothing else happens.

Validation is a pure function of the files: it writes nothing and stores nothing.
It checks, in one pass, and reports all of:

- ``creative.yaml`` (:mod:`dispatch.creatives.manifest`);
- that the templates match the channels (``letter.html.j2`` for post,
  ``email.html.j2`` and ``email.txt.j2`` for e-mail) and no others are present;
- each template's syntax and sandbox policy (:func:`dispatch.creatives.sandbox.check_syntax`),
  including that ``campaign.texts.<key>`` names a text of creative.yaml;
- each HTML template's markup (:mod:`dispatch.creatives.markup`);
- every asset (:mod:`dispatch.creatives.assets`);
- and, when all of that passed, a trial render of every template in both languages
  with a synthetic recipient, whose HTML output is checked again.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatch.creatives import sandbox
from dispatch.creatives.archive import ASSETS, MANIFEST, TEMPLATES
from dispatch.creatives.assets import check_asset
from dispatch.creatives.context import (
    SAMPLE_FIRST_NAME,
    SAMPLE_HOME_STORE,
    email_context,
    letter_context,
)
from dispatch.creatives.manifest import LANGUAGES, Manifest, parse_manifest
from dispatch.creatives.markup import check_html, skeleton
from dispatch.creatives.policy import Kind, kind_for
from dispatch.creatives.problems import Problem

#: Which templates each channel needs.
CHANNEL_TEMPLATES = {
    "post": ("letter.html.j2",),
    "email": ("email.html.j2", "email.txt.j2"),
}


def validate_files(files: Mapping[str, bytes]) -> tuple[Manifest | None, list[Problem]]:
    """The parsed manifest (None when it has problems) and every problem of the bundle."""
    problems: list[Problem] = []
    manifest: Manifest | None = None
    if MANIFEST in files:
        manifest, found = parse_manifest(files[MANIFEST])
        problems += found
    else:
        problems.append(Problem(MANIFEST, None, "missing: every bundle needs creative.yaml"))
    if manifest is not None:
        problems += _channel_problems(manifest, files)
    texts = None if manifest is None else list(manifest.texts(LANGUAGES[0]))
    sources: dict[str, str] = {}
    for name in TEMPLATES:
        if name not in files:
            continue
        try:
            sources[name] = files[name].decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, None, f"not UTF-8 (byte {exc.start})"))
            continue
        problems += _template_problems(name, sources[name], files, texts)
    for path in sorted(files):
        if path.startswith(ASSETS + "/"):
            problems += check_asset(path, files[path], files)
    if not problems and manifest is not None:
        problems += _trial_render(manifest, sources, files)
    return (manifest if not problems else None), sorted(set(problems), key=_order)


def _order(problem: Problem) -> tuple[str, int, str]:
    return (problem.file, problem.line or 0, problem.reason)


def _channel_problems(manifest: Manifest, files: Mapping[str, bytes]) -> list[Problem]:
    problems = []
    wanted = {t for c in manifest.channels for t in CHANNEL_TEMPLATES[c]}
    for channel in manifest.channels:
        for name in CHANNEL_TEMPLATES[channel]:
            if name not in files:
                problems.append(Problem(name, None, f"missing: channel {channel} needs it"))
    for name in TEMPLATES:
        if name in files and name not in wanted:
            channel = next(c for c, names in CHANNEL_TEMPLATES.items() if name in names)
            reason = f"present, but creative.yaml channels do not include {channel}"
            problems.append(Problem(name, None, reason))
    return problems


def _template_problems(
    name: str, source: str, files: Mapping[str, bytes], texts: list[str] | None
) -> list[Problem]:
    problems = sandbox.check_syntax(source, name, texts=texts)
    if kind_for(name) is not Kind.TEXT:
        shape = skeleton(source)
        if shape is not None:
            problems += check_html(shape, file=name, files=files, source_pass=True)
    return problems


def _trial_render(
    manifest: Manifest, sources: Mapping[str, str], files: Mapping[str, bytes]
) -> list[Problem]:
    problems: list[Problem] = []
    for name, source in sources.items():
        kind = kind_for(name)
        for lang in LANGUAGES:
            texts = manifest.texts(lang)
            if kind is Kind.LETTER:
                context = letter_context(lang, texts, SAMPLE_HOME_STORE)
            else:
                context = email_context(SAMPLE_FIRST_NAME, lang, texts, SAMPLE_HOME_STORE)
            try:
                output = sandbox.render(source, context, name=name)
            except sandbox.TemplateRejected as exc:
                problems.append(Problem(name, exc.line, f"[{lang}] {exc.reason}"))
                continue
            if kind is not Kind.TEXT:
                found = check_html(output, file=name, files=files, source_pass=False)
                problems += [Problem(p.file, None, f"[{lang}] output: {p.reason}") for p in found]
    return problems
