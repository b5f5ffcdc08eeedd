"""What a campaign sends: its approved creative, rendered the way members get it.

Built once per (worker process, creative version) and kept: the bundle is loaded and
its hash verified, each letter variant is laid out once (WeasyPrint runs per
language and per "has a home store or not", never per member), and e-mail builders
are prepared per language.

E-mails work the same way where the creative allows it. When its two e-mail
templates only print the personal fields as they are or test whether they are set
(:func:`dispatch.creatives.sandbox.opaque_to_personal_fields`), the templates run in
the sandbox once per language and per "has a first name / a home store or not", with
stand-in values, and each member's message is that output with the member's values
put in place of the stand-ins (escaped in the HTML, as the template would have). Any
other creative, or a member whose values would take an e-mail over the sandbox's
output limit or has a line break in a value, has the templates run in the sandbox for
each e-mail. Rendering both templates was about 60 % of a message's CPU
(bench/HISTORY.md). A variant's message bodies are also encoded once
(:meth:`EmailBuilder.template`), and each member's message is checked for anything
it would load from elsewhere unless every value lands in text, where an escaped value
cannot load anything (docs/rendering.md, E-mail).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from markupsafe import escape

from dispatch.creatives import services as creatives
from dispatch.creatives.bundle import Bundle
from dispatch.creatives.context import PERSONAL_FIELDS, email_context, letter_context
from dispatch.creatives.models import CreativeVersion
from dispatch.creatives.sandbox import LIMITS, opaque_to_personal_fields, render
from dispatch.errors import DispatchError
from dispatch.register.tokens import letter_code
from dispatch.rendering import EmailBuilder, Variant, render_variant
from dispatch.rendering.email import EmailTemplate
from dispatch.rendering.identity import DEMO_LINKS, LinkSettings

LetterKey = tuple[str, bool]
#: An e-mail variant: language, whether the member has a first name, a home store.
EmailKey = tuple[str, bool, bool]

#: What an e-mail variant renders in place of each personal field: NUL-delimited and
#: with a part drawn at random per process, so that no creative text can hold one.
_NONCE = secrets.token_hex(8)
_STAND_INS: Mapping[str, str] = {name: f"\x00{_NONCE}:{name}\x00" for name in PERSONAL_FIELDS}
#: Splits a rendering into literal text and, at odd positions, the fields' names.
_STAND_IN = re.compile(f"\x00{_NONCE}:({'|'.join(sorted(PERSONAL_FIELDS))})\x00")

Parts = tuple[str, ...]


def _split(rendered: str) -> Parts:
    """``rendered`` as literal text and field names in turn (odd positions: names)."""
    return tuple(_STAND_IN.split(rendered))


@dataclass(frozen=True, slots=True)
class _Size:
    """How long a rendering is once filled: its literal text, and each field's uses."""

    literal: int
    uses: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, parts: Parts) -> _Size:
        names = parts[1::2]
        return cls(sum(map(len, parts[::2])), tuple((n, names.count(n)) for n in set(names)))

    def filled(self, values: Mapping[str, str]) -> int:
        return self.literal + sum(len(values[name]) * uses for name, uses in self.uses)


@dataclass(frozen=True, slots=True)
class EmailVariant:
    """One e-mail variant's templates rendered once, with stand-ins for the fields,
    and its message bodies encoded once (:meth:`EmailBuilder.template`)."""

    template: EmailTemplate
    #: The sizes of the HTML as the templates made it, and of the text.
    html: _Size
    text: _Size

    @classmethod
    def of(cls, builder: EmailBuilder, html: str, text: str) -> EmailVariant:
        prepared = builder.prepare(html)
        template = builder.template(
            head=_split(prepared.head),
            body=_split(prepared.body),
            images=prepared.images,
            text=_split(text),
        )
        return cls(template, _Size.of(_split(html)), _Size.of(_split(text)))

    def values(self, values: Mapping[str, str]) -> tuple[dict[str, str], Mapping[str, str]] | None:
        """A member's values for the HTML (escaped, as the template would have) and the
        text; None where the sandbox must render the member's own e-mail instead: a
        value with a line break, or values that would take either over the output
        limit (the sandbox then refuses it)."""
        if any("\n" in value or "\r" in value for value in values.values()):
            return None
        marked = {name: str(escape(value)) for name, value in values.items()}
        limit = LIMITS.output_chars
        if self.html.filled(marked) > limit or self.text.filled(values) > limit:
            return None
        return marked, values


@dataclass
class CampaignContent:
    """The rendered pieces of one campaign's creative version."""

    campaign_id: int
    bundle: Bundle
    secret: str
    #: Where the member links in letters and e-mails point.
    links: LinkSettings = DEMO_LINKS
    #: False renders every e-mail in the sandbox: the reference that the variants are
    #: tested (tests/campaigns/test_content.py) and measured (bench/render.py) against.
    email_variants: bool = True
    _variants: dict[LetterKey, Variant] = field(default_factory=dict)
    _builders: dict[str, EmailBuilder] = field(default_factory=dict)
    _email_variants: dict[EmailKey, EmailVariant | None] = field(default_factory=dict)
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
        variant = self._email_variant(builder, language, bool(first_name), bool(home_store))
        name = " ".join(part for part in (first_name, last_name) if part) or None
        if variant is not None:
            values = variant.values(
                {"first_name": first_name or "", "home_store": home_store or ""}
            )
            if values is not None:
                return builder.fill(
                    variant.template,
                    member_id=member_id,
                    to_address=to_address,
                    to_name=name,
                    html_values=values[0],
                    text_values=values[1],
                )
        # The templates run in the sandbox for this member.
        context = email_context(
            first_name, language, self.bundle.manifest.texts(language), home_store
        )
        html = render(self.bundle.template("email.html.j2") or "", context, name="email.html.j2")
        text = render(self.bundle.template("email.txt.j2") or "", context, name="email.txt.j2")
        return builder.build(
            member_id=member_id, to_address=to_address, to_name=name, html_body=html, text_body=text
        )

    def _email_variant(
        self, builder: EmailBuilder, language: str, has_name: bool, has_store: bool
    ) -> EmailVariant | None:
        """The variant for these keys, rendered on first use; None where the creative's
        templates do more with the personal fields than print or test them, or where
        the stand-ins' rendering fails (each member's own render then says why)."""
        if not self.email_variants:
            return None
        key = (language, has_name, has_store)
        with self._lock:
            if key in self._email_variants:
                return self._email_variants[key]
        html_source = self.bundle.template("email.html.j2") or ""
        text_source = self.bundle.template("email.txt.j2") or ""
        variant = None
        if opaque_to_personal_fields(html_source, "email.html.j2") and opaque_to_personal_fields(
            text_source, "email.txt.j2"
        ):
            context = email_context(
                _STAND_INS["first_name"] if has_name else None,
                language,
                self.bundle.manifest.texts(language),
                _STAND_INS["home_store"] if has_store else None,
            )
            try:
                html = render(html_source, context, name="email.html.j2")
                text = render(text_source, context, name="email.txt.j2")
                variant = EmailVariant.of(builder, html, text)
            except DispatchError:
                variant = None
        with self._lock:
            return self._email_variants.setdefault(key, variant)

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
