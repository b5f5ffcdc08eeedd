"""E-mails built from a variant rendered once are the e-mails the sandbox makes per member.

The same once decoded: a variant's bodies are encoded once, and a member's values on
lines of their own, so soft line breaks fall elsewhere than in a body encoded whole.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from dispatch.campaigns.content import CampaignContent
from dispatch.creatives.bundle import Bundle, load_bundle, load_uploaded_zip
from dispatch.creatives.sandbox import LIMITS, TemplateRejected, render
from dispatch.rendering.email import EmailRejected
from tests.creatives.builders import valid_files

ROOT = Path(__file__).resolve().parents[2]
DEMO_CREATIVES = sorted((ROOT / "templates" / "creatives").iterdir())
SECRET = "s" * 32

#: Values a template must print as text, escaped in HTML, never read as markup.
NAMES = [None, "", "Matti", "Åsa-Märta", "O'Brien & <Sons>", 'Zoë "Z"', "x" * 300, ". Ala "]
STORES = [None, "", "Prisma Itis", "K & K <Kauppa>", "Sälj 'n' köp", "Sale\r\nItis\r", "."]


def bundle(**templates: str) -> Bundle:
    files = valid_files()
    files.update(
        {name.replace("_", ".") + ".j2": text.encode() for name, text in templates.items()}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return load_uploaded_zip(buf.getvalue())


def per_member(bundle: Bundle) -> tuple[CampaignContent, CampaignContent]:
    """The same campaign's content twice: as built, and with variants switched off."""
    fast = CampaignContent(campaign_id=7, bundle=bundle, secret=SECRET)
    slow = CampaignContent(campaign_id=7, bundle=bundle, secret=SECRET, email_variants=False)
    return fast, slow


def build(
    content: CampaignContent, member_id: int, first: str | None, store: str | None, lang: str
) -> bytes | str:
    try:
        return content.email(
            member_id=member_id,
            language=lang,
            first_name=first,
            last_name="Virtanen",
            home_store=store,
            to_address=f"m{member_id}@example.fi",
        )
    except (EmailRejected, TemplateRejected) as exc:
        return f"{type(exc).__name__}: {exc.message}"


def decoded(message: bytes | str) -> object:
    """What a reader gets from the message: every header, every part's headers and
    decoded content; and every quoted-printable line within RFC 2045's 76 characters."""
    if isinstance(message, str):
        return message
    assert b"\n" not in message.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    parts = []
    for part in parsed.walk():
        if part.get("Content-Transfer-Encoding") == "quoted-printable":
            raw = part.get_payload(decode=False)
            assert isinstance(raw, str)
            assert max(map(len, raw.splitlines())) <= 76
        body = None if part.is_multipart() else part.get_payload(decode=True)
        parts.append((list(part.items()), body))
    return parts


def same_messages(bundle: Bundle) -> int:
    fast, slow = per_member(bundle)
    # One Date header for both (a builder takes the time it is made).
    fast._builder("fi"), fast._builder("sv")
    slow._builders = fast._builders
    compared = 0
    for number, (first, store) in enumerate((f, s) for f in NAMES for s in STORES):
        for lang in ("fi", "sv"):
            assert decoded(build(fast, number, first, store, lang)) == decoded(
                build(slow, number, first, store, lang)
            )
            compared += 1
    return compared


@pytest.mark.parametrize("path", DEMO_CREATIVES, ids=lambda p: p.name)
def test_demo_creatives_build_the_same_messages_from_their_variants(path: Path) -> None:
    assert same_messages(load_bundle(path)) == 2 * len(NAMES) * len(STORES)


@pytest.mark.parametrize(
    "html",
    [
        "<p>{{ recipient.first_name|default('friend', true) }}</p>",
        "{% if recipient.home_store and recipient.first_name %}"
        "<b>{{ recipient.home_store }}</b>{% endif %}",
        "<p>{{ 'Hi' if not recipient.first_name else recipient.first_name }}</p>",
        "<p>{{ recipient.first_name|upper }} {{ recipient.home_store|length }}</p>",
        "{% if recipient.first_name == 'Matti' %}<p>Moi Matti</p>{% endif %}",
        "{% set n = recipient.first_name %}<p>{{ n|title }}, {{ n ~ '!' }}</p>",
        "<p title=\"{{ recipient.first_name }}\">{{ recipient['home_store'] }}</p>",
        "{% for c in recipient.first_name %}{{ c }}.{% endfor %}",
    ],
)
def test_any_template_builds_the_same_messages_either_way(html: str) -> None:
    assert same_messages(bundle(email_html=html)) > 0


def test_a_variant_renders_the_templates_once_per_language_and_fields_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counted(source: str, context: Mapping[str, object], *, name: str) -> str:
        calls.append(name)
        return render(source, context, name=name)

    monkeypatch.setattr("dispatch.campaigns.content.render", counted)
    content = CampaignContent(campaign_id=7, bundle=load_bundle(DEMO_CREATIVES[0]), secret=SECRET)
    stores = [store for store in STORES if "\n" not in (store or "")]
    for number in range(200):
        build(content, number, NAMES[number % len(NAMES)], stores[number % len(stores)], "fi")
    # fi x (name or not) x (store or not), each an HTML and a text template
    assert len(calls) == 2 * 4
    # A value with a line break: the member's own e-mail, rendered in the sandbox.
    build(content, 200, "Matti", "Sale\nItis", "fi")
    assert len(calls) == 2 * 4 + 2


def test_a_template_that_transforms_a_field_renders_for_each_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = CampaignContent(
        campaign_id=7,
        bundle=bundle(email_html="<p>{{ recipient.first_name|upper }}</p>"),
        secret=SECRET,
    )
    message = build(content, 1, "Matti", None, "fi")
    assert isinstance(message, bytes) and b"MATTI" in message
    assert not any(content._email_variants.values())


def test_a_value_in_a_style_attribute_is_still_checked_for_remote_loads() -> None:
    # Validation refuses template code in a style attribute; this bundle skips it, to
    # show that each member's message is checked whatever the variant held.
    valid = bundle()
    html = b'<div style="color: {{ recipient.home_store }}">x</div>'
    files = MappingProxyType({**valid.files, "email.html.j2": html})
    content = CampaignContent(
        campaign_id=7, bundle=dataclasses.replace(valid, files=files), secret=SECRET
    )
    assert isinstance(build(content, 1, "Matti", "red", "fi"), bytes)
    refused = build(content, 2, "Matti", "red; background: url(https://t.example/p.gif)", "fi")
    assert refused == (
        "EmailRejected: the e-mail would load a resource from elsewhere: "
        "'url(https://t.example/p.gif)\">x</div>'"
    )


def test_a_member_whose_values_exceed_the_output_limit_is_refused_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = dataclasses.replace(LIMITS, output_chars=400)
    monkeypatch.setattr("dispatch.campaigns.content.LIMITS", small)

    def limited(source: str, context: Mapping[str, object], *, name: str) -> str:
        return render(source, context, name=name, limits=small)

    monkeypatch.setattr("dispatch.campaigns.content.render", limited)
    content = CampaignContent(
        campaign_id=7,
        bundle=bundle(
            email_html="<p>{{ recipient.first_name }}</p>", email_txt="{{ recipient.first_name }}"
        ),
        secret=SECRET,
    )
    assert isinstance(build(content, 1, "Matti", None, "fi"), bytes)
    assert build(content, 2, "M" * 500, None, "fi") == (
        "TemplateRejected: limit exceeded: output longer than 400 characters"
    )


def test_a_value_in_text_is_text_however_it_reads() -> None:
    # Where every value lands in text, a member's values are not checked again: escaped,
    # they cannot make the message load anything. The check reads a store like this as
    # a stylesheet's url() and refuses the member's e-mail made in the sandbox.
    nordic = next(path for path in DEMO_CREATIVES if path.name == "nordic-air-spring")
    fast, slow = per_member(load_bundle(nordic))
    odd = "url(https://t.example/p.gif) @import"
    message = build(fast, 1, "Matti", odd, "fi")
    assert isinstance(message, bytes)
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert f": {odd}.</p>" in html.get_content()
    assert str(build(slow, 1, "Matti", odd, "fi")).startswith("EmailRejected: ")
