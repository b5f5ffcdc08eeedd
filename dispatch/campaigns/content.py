"""What a campaign sends: its approved creative, rendered the way members get it.

Built once per (worker process, creative version) and kept: the bundle is loaded and
its hash verified, each letter variant is laid out once (WeasyPrint runs per
language and per "has a home store or not", never per member), and e-mail builders
are prepared per language. Templates still run in the sandbox for every e-mail.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import Bundle
from dispatch.creatives.context import email_context, letter_context
from dispatch.creatives.models import CreativeVersion
from dispatch.creatives.sandbox import render
from dispatch.register.tokens import letter_code
from dispatch.rendering import EmailBuilder, Variant, render_variant
from dispatch.rendering.identity import DEMO_LINKS, LinkSettings

LetterKey = tuple[str, bool]


@dataclass
class CampaignContent:
    """The rendered pieces of one campaign's creative version."""

    campaign_id: int
    bundle: Bundle
    secret: str
    #: Where the member links in letters and e-mails point.
    links: LinkSettings = DEMO_LINKS
    _variants: dict[LetterKey, Variant] = field(default_factory=dict)
    _builders: dict[str, EmailBuilder] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def variant_key(self, language: str, home_store: str | None) -> LetterKey:
        return (language, bool(home_store))

    def letter_code(self, member_id: int) -> str:
        """The code in the member's letter (and its QR code): the preference centre."""
        return letter_code(self.secret, self.campaign_id, member_id)

    def variants(self, keys: set[LetterKey]) -> Mapping[Hashable, Variant]:
        """The letter variants for ``keys``, laid out on first use."""
        with self._lock:
            for key in keys - self._variants.keys():
                language, has_store = key
                texts = self.bundle.manifest.texts(language)
                body = render(
                    self.bundle.template("letter.html.j2") or "",
                    letter_context(language, texts, "store" if has_store else None),
                    name="letter.html.j2",
                )
                self._variants[key] = render_variant(
                    body, self.bundle.files, language=language, sender=self.links.sender()
                )
            return {key: self._variants[key] for key in keys}

    def email(
        self,
        *,
        member_id: int,
        language: str,
        first_name: str | None,
        last_name: str | None,
        home_store: str | None,
        to_address: str,
    ) -> bytes:
        """One member's complete message."""
        builder = self._builder(language)
        texts = self.bundle.manifest.texts(language)
        context = email_context(first_name, language, texts, home_store)
        html = render(self.bundle.template("email.html.j2") or "", context, name="email.html.j2")
        text = render(self.bundle.template("email.txt.j2") or "", context, name="email.txt.j2")
        name = " ".join(part for part in (first_name, last_name) if part)
        return builder.build(
            member_id=member_id,
            to_address=to_address,
            to_name=name or None,
            html_body=html,
            text_body=text,
        )

    def _builder(self, language: str) -> EmailBuilder:
        with self._lock:
            builder = self._builders.get(language)
            if builder is None:
                builder = EmailBuilder(
                    campaign_id=self.campaign_id,
                    language=language,
                    subject=self.bundle.manifest.subject(language) or "",
                    assets=self.bundle.files,
                    secret=self.secret,
                    settings=self.links.email_settings(),
                    sender=self.links.sender(),
                    date=dt.datetime.now(dt.UTC),
                )
                self._builders[language] = builder
            return builder


_CACHE: dict[tuple[int, int, str, LinkSettings], CampaignContent] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def content_for(
    campaign_id: int, version: CreativeVersion, secret: str, links: LinkSettings = DEMO_LINKS
) -> CampaignContent:
    """The campaign's content, cached per process (a worker serves many batches)."""
    key = (campaign_id, version.id, version.content_hash, links)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            return found
    bundle = creatives.load_version_bundle(version)  # verifies the content hash
    content = CampaignContent(campaign_id=campaign_id, bundle=bundle, secret=secret, links=links)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        return _CACHE.setdefault(key, content)
