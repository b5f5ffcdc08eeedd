"""E-mail: MIME structure, inline images, one-click unsubscribe, nothing remote."""

from __future__ import annotations

import base64
import email
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from dispatch.errors import InputError
from dispatch.rendering import (
    EmailBuilder,
    build_email,
    message_id,
    unsubscribe_token,
    verify_unsubscribe_token,
)
from dispatch.rendering.email import (
    DEMO_EMAIL,
    EmailRejected,
    centre_token,
)

SECRET = "test-secret-0123456789abcdef"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
ASSETS = {
    "assets/logo.png": PNG,
    "assets/style.css": b".offer { color: #c00; background: url(assets/logo.png) }",
    "letter.html.j2": b"not an asset",
}
HTML_BODY = (
    "<html><head><style>h1 { color: #036 }</style>"
    '<link rel="stylesheet" href="assets/style.css"></head><body>'
    '<h1>Hei Åsa-Britt!</h1><img src="assets/logo.png" alt="logo">'
    '<p class="offer">Kevään tarjous</p>'
    '<a href="https://partner.example/kevat">Katso tarjoukset</a></body></html>'
)
TEXT_BODY = "Hei Åsa-Britt!\n\nKevään tarjous: https://partner.example/kevat\n"
DATE = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def build(**overrides: object) -> bytes:
    values: dict[str, object] = {
        "campaign_id": 7,
        "member_id": 4242,
        "language": "fi",
        "subject": "Kevään pyörätarjous \N{EN DASH} vain kanta-asiakkaille",
        "to_address": "asa-britt@example.fi",
        "to_name": "Åsa-Britt Öhrnberg",
        "html_body": HTML_BODY,
        "text_body": TEXT_BODY,
        "assets": ASSETS,
        "secret": SECRET,
        "date": DATE,
    }
    values.update(overrides)
    return build_email(**values)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_message_is_multipart_alternative_with_text_and_related_html() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.get_payload()  # type: ignore[misc]
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True) == PNG
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert f"url(cid:{cid})" in html.get_content()  # inside the inlined stylesheet


def test_headers_carry_names_subject_and_rfc_8058_unsubscribe() -> None:
    message = parse(build())
    token = unsubscribe_token(SECRET, 7, 4242)
    assert message["Subject"] == "Kevään pyörätarjous \N{EN DASH} vain kanta-asiakkaille"
    assert message["To"].addresses[0].display_name == "Åsa-Britt Öhrnberg"
    assert message["To"].addresses[0].addr_spec == "asa-britt@example.fi"
    assert message["From"].addresses[0].addr_spec == DEMO_EMAIL.from_address
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert links == [
        f"{DEMO_EMAIL.unsubscribe_url}{token}",
        f"mailto:{DEMO_EMAIL.unsubscribe_mailto}?subject={token}",
    ]
    assert message["Date"].datetime == DATE
    assert message["Content-Language"] == "fi"


def test_bodies_keep_the_partner_text_and_add_the_footer_in_the_members_language() -> None:
    message = parse(build())
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    token = unsubscribe_token(SECRET, 7, 4242)
    centre = DEMO_EMAIL.centre_url + centre_token(SECRET, 7, 4242)
    assert text.startswith("Hei Åsa-Britt!")
    assert "Peru tilaus: " + DEMO_EMAIL.unsubscribe_url + token in text
    assert "Markkinointivalintasi: " + centre in text
    assert "Voit kieltää suoramarkkinoinnin" in text and "010 123 4567" in text
    assert "<h1>Hei Åsa-Britt!</h1>" in html
    assert f'href="{DEMO_EMAIL.unsubscribe_url}{token}"' in html
    assert f'href="{centre}"' in html
    assert centre_token(SECRET, 7, 4242) != token  # one token, one purpose
    assert "ei saa sähköpostiosoitettasi" in html
    sv = parse(build(language="sv"))
    assert "Avsluta prenumerationen" in sv.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Förbudet träder i kraft genast" in sv.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_html_loads_nothing_from_anywhere() -> None:
    html = parse(build()).get_body(("html",)).get_content()  # type: ignore[union-attr]
    resources = re.findall(
        r"""(?:src|background|srcset)\s*=\s*["']?([^"'\s>]+)|url\(([^)]*)\)""", html
    )
    assert resources
    assert all(value.startswith("cid:") for pair in resources for value in pair if value)
    assert not re.search(r"<(link|script|iframe|img[^>]+https?:)", html)
    # The only http(s) URLs are links: the partner's offer and the member's own pages.
    urls = re.findall(r"https?://[^\"'\s<>]+", html)
    ours = DEMO_EMAIL.unsubscribe_url.split("/")[2]
    assert {u.split("/")[2] for u in urls} == {"partner.example", ours}


@pytest.mark.parametrize(
    "body",
    [
        '<img src="https://tracker.example/open.gif?u=1">',
        '<img src="//tracker.example/open.gif">',
        '<img src="http://127.0.0.1/x.png">',
        '<img src="file:///etc/passwd">',
        '<img srcset="https://cdn.example/a.png 2x">',
        '<table background="https://cdn.example/bg.png"><tr><td>x</td></tr></table>',
        '<div style="background-image: url(https://cdn.example/bg.png)">x</div>',
        "<style>@import url(https://cdn.example/x.css);</style>",
        '<link rel="stylesheet" href="https://cdn.example/x.css">',
        '<iframe src="https://partner.example/"></iframe>',
        '<script src="https://partner.example/t.js"></script>',
        '<img src="assets/missing.png">',
        '<img src="assets/style.css">',
        '<meta http-equiv="refresh" content="0;url=https://partner.example/">',
    ],
)
def test_remote_or_unknown_resources_are_refused(body: str) -> None:
    with pytest.raises(EmailRejected):
        build(html_body=f"<p>Hei!</p>{body}")


def test_message_without_images_is_plain_alternative() -> None:
    message = parse(build(html_body="<p>Hei Maria!</p>"))
    kinds = [part.get_content_type() for part in message.get_payload()]  # type: ignore[union-attr]
    assert kinds == ["text/plain", "text/html"]


def test_message_id_is_deterministic_per_campaign_and_member() -> None:
    first, again = parse(build()), parse(build(date=datetime(2027, 1, 1, tzinfo=UTC)))
    assert (
        first["Message-ID"] == again["Message-ID"] == message_id(SECRET, 7, 4242, DEMO_EMAIL.domain)
    )
    assert parse(build(member_id=4243))["Message-ID"] != first["Message-ID"]
    assert parse(build(campaign_id=8))["Message-ID"] != first["Message-ID"]
    assert "4242" not in first["Message-ID"]
    assert build() == build()


def test_unsubscribe_token_verifies_only_for_its_campaign_member_and_secret() -> None:
    token = unsubscribe_token(SECRET, 7, 4242)
    assert verify_unsubscribe_token(SECRET, 7, 4242, token)
    assert not verify_unsubscribe_token(SECRET, 7, 4243, token)
    assert not verify_unsubscribe_token(SECRET, 8, 4242, token)
    assert not verify_unsubscribe_token("another-secret-0123456789", 7, 4242, token)
    assert not verify_unsubscribe_token(
        SECRET, 7, 4242, token[:-1] + ("A" if token[-1] != "A" else "B")
    )
    assert not verify_unsubscribe_token(SECRET, 7, 4242, "")
    assert "4242" not in token and len(token) == 43


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_name", "Maria\r\nBcc: everyone@example.fi"),
        ("to_address", "maria@example.fi\r\nBcc: x@example.fi"),
        ("to_address", "maria@example.fi, other@example.fi"),
        ("subject", "Hei\nBcc: x@example.fi"),
    ],
)
def test_header_injection_is_refused(field: str, value: str) -> None:
    with pytest.raises(InputError):
        build(**{field: value})


def test_lines_end_in_crlf_and_stay_short() -> None:
    raw = build(html_body="<p>" + "Kevään tarjous " * 200 + "</p>")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert max(len(line) for line in body.split(b"\r\n")) <= 78


def test_builder_reuses_everything_shared_across_members() -> None:
    builder = EmailBuilder(
        campaign_id=7, language="fi", subject="Tarjous", assets=ASSETS, secret=SECRET, date=DATE
    )
    first = builder.build(
        member_id=1, to_address="a@example.fi", to_name="A", html_body=HTML_BODY, text_body="x"
    )
    second = builder.build(
        member_id=2, to_address="b@example.fi", to_name="B", html_body=HTML_BODY, text_body="y"
    )
    assert parse(first)["Message-ID"] != parse(second)["Message-ID"]
    image_part = base64.encodebytes(PNG).strip().replace(b"\n", b"\r\n")
    assert image_part in first and image_part in second


@pytest.mark.parametrize(
    "name",
    [
        "Åsa-Britt Öhrnberg",
        "Maria-Kristiina Åkerström-Šimonović-Väänänen-Lindqvist",
        "O'Brien, Seán",
    ],
)
def test_recipient_names_round_trip_through_the_to_header(name: str) -> None:
    message = parse(build(to_name=name))
    assert message["To"].addresses[0].display_name == name
    head = build(to_name=name).split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998


# -- a variant's bodies encoded once (EmailBuilder.template and fill) ----------------


def builder() -> EmailBuilder:
    return EmailBuilder(
        campaign_id=7, language="fi", subject="Tarjous", assets=ASSETS, secret=SECRET, date=DATE
    )


@pytest.mark.parametrize(
    ("body", "in_text"),
    [
        ("<p>Hei \x00name\x00, tervetuloa \x00store\x00!</p>", True),
        ("\x00name\x00<p>x</p>\x00store\x00", True),
        ("<title>\x00name\x00</title>", True),
        ('<p title="\x00name\x00">x</p>', False),
        ("<p class=\x00name\x00>x</p>", False),
        ('<img alt="a>b" title="\x00name\x00">', False),
        ("<\x00name\x00>", False),
        ("<p>x<\x00name\x00</p>", False),
        ("<p>x</\x00name\x00</p>", False),
        ("<style>p { color: \x00name\x00 }</style>", False),
        ("<script>\x00name\x00</script>", False),
        ("<!-- \x00name\x00 -->", False),
        ("<![CDATA[\x00name\x00]]>", False),
        ('<p style="x">y</p><p>\x00name\x00</p><a href="https://t.example/">z</a>', True),
        ('<p>\x00name\x00</p><img src="https://t.example/p.gif">', False),
    ],
)
def test_a_template_skips_the_members_check_only_where_every_value_lands_in_text(
    body: str, in_text: bool
) -> None:
    b = builder()
    parts = tuple(body.split("\x00"))
    template = b.template(head=("",), body=parts, images=(), text=("Hei ", "name", ""))
    assert template.in_text is in_text


def test_a_template_fills_to_the_message_build_makes_once_decoded() -> None:
    b = builder()
    head = ("<style>h1 { color: #036 }</style>",)
    body = tuple(
        ("<h1>Hei \x00name\x00!</h1>" + "<p>Kevään tarjous</p>" * 40 + "\x00store\x00").split(
            "\x00"
        )
    )
    text = tuple(
        ("Hei \x00name\x00,\n\n" + "Kevään tarjous. " * 30 + "\n\x00store\x00").split("\x00")
    )
    template = b.template(head=head, body=body, images=(), text=text)
    values = {"name": "Åsa " + "x" * 200 + " ", "store": ".Prisma & co"}
    filled = b.fill(
        template,
        member_id=5,
        to_address="a@example.fi",
        to_name="Åsa",
        html_values=values,
        text_values=values,
    )
    filled_body = "".join(v if i % 2 == 0 else values[v] for i, v in enumerate(body))
    whole = b.build(
        member_id=5,
        to_address="a@example.fi",
        to_name="Åsa",
        html_body=f"<html><head>{head[0]}</head><body>{filled_body}</body></html>",
        text_body="".join(v if i % 2 == 0 else values[v] for i, v in enumerate(text)),
    )
    assert filled != whole  # the soft line breaks fall elsewhere...
    for mine, theirs in zip(parse(filled).walk(), parse(whole).walk(), strict=True):
        assert mine.items() == theirs.items()  # ...and nothing else differs
        if not mine.is_multipart():
            assert mine.get_content() == theirs.get_content()
    _head_lines, lines = filled.split(b"\r\n\r\n", 1)
    assert b"\n" not in lines.replace(b"\r\n", b"")
    assert max(len(line) for line in lines.split(b"\r\n")) <= 76


def test_a_templates_slots_may_not_be_the_shells() -> None:
    with pytest.raises(ValueError, match="token"):
        builder().template(head=("",), body=("<p>", "token", "</p>"), images=(), text=("x",))


def test_a_member_value_after_a_bracket_is_checked_and_refused() -> None:
    b = builder()
    template = b.template(head=("",), body=("<p>x<", "store", "</p>"), images=(), text=("x",))
    with pytest.raises(EmailRejected, match="resource from elsewhere"):
        b.fill(
            template,
            member_id=5,
            to_address="a@example.fi",
            to_name=None,
            html_values={"store": "img src=https://t.example/p.gif"},
            text_values={},
        )
