"""Preview files of a creative version for the portals, rendered once and kept.

A stored version never changes (its content hash is verified before rendering), so
its previews are rendered on first request into ``var/previews/web/<public id>/``
and served from there. They are made by :func:`dispatch.rendering.preview.write_preview`
on the synthetic personas only: a preview is partner-facing output (invariant 1).
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from dispatch.config import Settings
from dispatch.creatives.models import CreativeVersion
from dispatch.creatives.services import load_version_bundle
from dispatch.rendering.preview import LANGUAGES, write_preview

_LOCK = threading.Lock()
MEDIA_TYPES = {
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Previews:
    """The rendered files of one version, by file name (``letter-fi-p1.png``, ...)."""

    folder: Path
    names: tuple[str, ...]

    def letter_pages(self, language: str) -> list[str]:
        prefix = f"letter-{language}-p"
        pages = [n for n in self.names if n.startswith(prefix) and n.endswith(".png")]
        return sorted(pages, key=lambda n: int(n[len(prefix) : -4]))

    def has(self, name: str) -> bool:
        return name in self.names

    def path(self, name: str) -> Path | None:
        return self.folder / name if name in self.names else None

    def as_json(self, base: str) -> dict[str, dict[str, object]]:
        """Per language: the URLs of the letter's pages and PDF, the e-mail's parts."""
        doc: dict[str, dict[str, object]] = {}
        for language in LANGUAGES:
            entry: dict[str, object] = {}
            pages = self.letter_pages(language)
            if pages:
                entry["letter_pages"] = [f"{base}/{n}" for n in pages]
                entry["letter_pdf"] = f"{base}/letter-{language}.pdf"
            if self.has(f"email-{language}.html"):
                entry["email_html"] = f"{base}/email-{language}.html"
                entry["email_text"] = f"{base}/email-{language}.txt"
            doc[language] = entry
        return doc


def previews(settings: Settings, version: CreativeVersion) -> Previews:
    """The version's previews, rendering them first if this is the first request."""
    folder = settings.var_dir / "previews" / "web" / version.public_id
    with _LOCK:
        if not (folder / "COMPLETE").exists():
            _render(settings, version, folder)
    names = tuple(sorted(p.name for p in folder.iterdir() if p.suffix in MEDIA_TYPES))
    return Previews(folder, names)


def _render(settings: Settings, version: CreativeVersion, folder: Path) -> None:
    bundle = load_version_bundle(version)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".render-"))
    try:
        write_preview(bundle, work, settings=settings, label=version.public_id)
        for eml in work.glob("email-*.eml"):
            eml.with_suffix(".txt").write_text(_text_part(eml.read_bytes()), encoding="utf-8")
            eml.unlink()
        (work / "COMPLETE").write_text("", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _text_part(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    for part in parsed.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_content())
    return ""
