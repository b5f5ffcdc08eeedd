"""Previews of a creative on synthetic recipients, exactly as members would get it.

A preview goes through the same path as a campaign (sandboxed template, system
layout, batch engine, e-mail builder) so that a partner sees the real letter; but its
recipients are made-up people defined here, never members of the register
(invariant 1: a preview is partner-facing output).
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path

from dispatch.config import Settings
from dispatch.creatives.bundle import Bundle
from dispatch.creatives.context import email_context, letter_context
from dispatch.creatives.sandbox import render
from dispatch.rendering import EmailBuilder, Recipient, render_single_letter
from dispatch.rendering.identity import LinkSettings

LANGUAGES = ("fi", "sv")
#: Preview images are for the eye, not for print: 100 dpi keeps an A4 page ~1 MB.
PNG_DPI = 100


@dataclass(frozen=True)
class Persona:
    """A synthetic recipient: plausible, but nobody in the register."""

    recipient: Recipient
    email: str
    home_store: str


PERSONAS = {
    "fi": Persona(
        Recipient(
            first_name="Aino",
            last_name="Esimerkki",
            street="Esimerkkikatu 1 A 2",
            postcode="00100",
            post_town="Helsinki",
            language="fi",
        ),
        email="aino.esimerkki@example.invalid",
        home_store="Esimerkkikauppa",
    ),
    "sv": Persona(
        Recipient(
            first_name="Sofia",
            last_name="Exempelsson",
            street="Exempelgatan 3",
            postcode="65100",
            post_town="Vasa",
            language="sv",
        ),
        email="sofia.exempelsson@example.invalid",
        home_store="Exempelbutiken",
    ),
}


@dataclass(frozen=True)
class PreviewFile:
    path: Path
    kind: str
    language: str


def write_preview(
    bundle: Bundle, out: Path, *, settings: Settings, label: str
) -> list[PreviewFile]:
    """Render every channel of ``bundle`` in Finnish and Swedish into ``out``.

    The sender, From and member links are the configured ones (``settings``), as in
    the campaign's letters and e-mails.

    Letters: ``letter-LANG.pdf`` and one ``letter-LANG-pN.png`` per page. E-mails:
    ``email-LANG.eml`` (the MIME message) and ``email-LANG.html`` (its HTML part with
    the inline images embedded, to open in a browser).
    """
    out.mkdir(parents=True, exist_ok=True)
    links = LinkSettings.from_settings(settings)
    sender = links.sender()
    written: list[PreviewFile] = []
    for language in LANGUAGES:
        persona = PERSONAS[language]
        texts = bundle.manifest.texts(language)
        if "post" in bundle.manifest.channels:
            source = bundle.template("letter.html.j2") or ""
            body = render(
                source,
                letter_context(language, texts, persona.home_store),
                name="letter.html.j2",
            )
            pdf = render_single_letter(
                body,
                bundle.files,
                persona.recipient,
                fields={
                    "first_name": persona.recipient.first_name,
                    "home_store": persona.home_store,
                },
                sender=sender,
            )
            pdf_path = out / f"letter-{language}.pdf"
            pdf_path.write_bytes(pdf)
            written.append(PreviewFile(pdf_path, "letter-pdf", language))
            for number, png in enumerate(_png_pages(pdf), start=1):
                png_path = out / f"letter-{language}-p{number}.png"
                png_path.write_bytes(png)
                written.append(PreviewFile(png_path, "letter-png", language))
        if "email" in bundle.manifest.channels:
            context = email_context(
                persona.recipient.first_name, language, texts, persona.home_store
            )
            html = render(bundle.template("email.html.j2") or "", context, name="email.html.j2")
            text = render(bundle.template("email.txt.j2") or "", context, name="email.txt.j2")
            builder = EmailBuilder(
                campaign_id=f"preview-{label}",
                language=language,
                subject=bundle.manifest.subject(language) or "",
                assets=bundle.files,
                secret=settings.secret_key,
                settings=links.email_settings(),
                sender=sender,
            )
            message = builder.build(
                member_id="preview",
                to_address=persona.email,
                to_name=persona.recipient.full_name,
                html_body=html,
                text_body=text,
            )
            eml_path = out / f"email-{language}.eml"
            eml_path.write_bytes(message)
            html_path = out / f"email-{language}.html"
            html_path.write_text(_browser_html(message), encoding="utf-8")
            written += [
                PreviewFile(eml_path, "email-eml", language),
                PreviewFile(html_path, "email-html", language),
            ]
    return written


def _png_pages(pdf: bytes) -> list[bytes]:
    import io

    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            image = document[index].render(scale=PNG_DPI / 72).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            pages.append(buffer.getvalue())
        return pages
    finally:
        document.close()


def _browser_html(message: bytes) -> str:
    """The message's HTML part with ``cid:`` images replaced by data URLs."""
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    html = ""
    images: dict[str, str] = {}
    for part in parsed.walk():
        if part.get_content_type() == "text/html":
            html = str(part.get_content())
        content_id = part.get("Content-ID")
        if content_id and part.get_content_maintype() == "image":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                encoded = base64.b64encode(data).decode()
                images[content_id.strip("<>")] = f"data:{part.get_content_type()};base64,{encoded}"
    return re.sub(r"cid:([^\"')\s]+)", lambda m: images.get(m.group(1), m.group(0)), html)
