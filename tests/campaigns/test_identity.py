"""Who the letters and e-mails come from is configuration (DISPATCH_SENDER_*,
DISPATCH_MAIL_*, DISPATCH_ENVELOPE_SENDER, DISPATCH_PUBLIC_URL,
DISPATCH_UNSUBSCRIBE_MAILTO): a campaign's letters and e-mails, and a creative's
previews, carry the configured sender and none of the demo cooperative's details."""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from dispatch import batchformat as bf
from dispatch.campaigns.models import CampaignStatus
from tests.campaigns.conftest import OWN, PARTNER, World
from tests.conftest import CliResult
from tests.rendering.helpers import pdf_text

IDENTITY = {
    "DISPATCH_SENDER_NAME": "Osuuskunta Pohjantähti",
    "DISPATCH_SENDER_UNIT": "-",
    "DISPATCH_SENDER_STREET": "Satamakatu 7",
    "DISPATCH_SENDER_POSTCODE": "90100",
    "DISPATCH_SENDER_POST_TOWN": "Oulu",
    "DISPATCH_SENDER_PHONE": "08 765 4321",
    "DISPATCH_MAIL_FROM": "tarjoukset@pohjantahti.fi",
    "DISPATCH_MAIL_FROM_NAME": "Pohjantähti",
    "DISPATCH_ENVELOPE_SENDER": "palautus@pohjantahti.fi",
    "DISPATCH_PUBLIC_URL": "https://jasen.pohjantahti.fi",
    "DISPATCH_UNSUBSCRIBE_MAILTO": "pois@pohjantahti.fi",
}
#: What only the demo cooperative's identity would put in a letter or e-mail.
DEMO_TRACES = ("Osuuskauppa Esimerkki", "010 123 4567", "esimerkki.fi", "127.0.0.1", "PL 100")


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, world: World) -> World:
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    return world


def _letter_texts(world: World) -> list[str]:
    box = world.outbox
    return [
        pdf_text(bf.decrypt(box.get(batch_id, bf.ENCRYPTED_PDF), world.identity))
        for batch_id in box.list_complete()
    ]


def _mails(world: World) -> list[tuple[str, EmailMessage]]:
    """(envelope sender, message) of every e-mail in the maildir."""
    found = []
    for raw in mailbox.Maildir(world.var / "mail", create=False):
        message = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append((str(message["Return-Path"]), message))
    return found


def _text_of(message: EmailMessage) -> str:
    parts = [p.get_content() for p in message.walk() if p.get_content_type().startswith("text/")]
    return "\n".join(str(p) for p in parts)


def test_a_letter_carries_the_configured_sender_and_member_links(configured: World) -> None:
    configured.add_members(6)
    cid = configured.start("own_post", creative=OWN)
    configured.run_all(cid)
    assert configured.status(cid) == CampaignStatus.COMPLETED.value

    [text] = _letter_texts(configured)

    flat = " ".join(text.split())
    assert "Osuuskunta Pohjantähti" in flat
    assert "Satamakatu 7" in flat and "90100 OULU" in flat
    assert "08 765 4321" in flat
    assert "jasen.pohjantahti.fi/k" in flat  # where to object, with the letter's code
    assert "Kanta-asiakaspalvelu" not in flat  # DISPATCH_SENDER_UNIT=- : no unit line
    assert not [trace for trace in DEMO_TRACES if trace in flat]


def test_an_email_carries_the_configured_from_envelope_and_unsubscribe(
    configured: World,
) -> None:
    members = configured.add_members(5, email_opt_in=True)
    cid = configured.start("partner_email", creative=PARTNER)
    configured.run_all(cid)
    assert configured.status(cid) == CampaignStatus.COMPLETED.value

    mails = _mails(configured)

    assert len(mails) == len(members)
    for envelope, message in mails:
        assert envelope == "<palautus@pohjantahti.fi>"
        [sender] = message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (
            "Pohjantähti",
            "tarjoukset@pohjantahti.fi",
        )
        assert str(message["Message-ID"]).endswith("@pohjantahti.fi>")
        unsubscribe = " ".join(str(message["List-Unsubscribe"]).split())
        assert unsubscribe.startswith("<https://jasen.pohjantahti.fi/u/")
        assert "<mailto:pois@pohjantahti.fi?subject=" in unsubscribe
        body = _text_of(message)
        assert "Osuuskunta Pohjantähti" in body and "08 765 4321" in body
        assert "https://jasen.pohjantahti.fi/p/" in body  # the preference centre
        raw = message.as_string()
        assert not [trace for trace in DEMO_TRACES if trace in raw]


def test_previews_show_the_configured_sender(
    configured: World, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "preview"

    result = cli("creative", "preview", str(configured.creative[OWN]), "--out", str(out))

    assert result.code == 0, result.err
    letter = " ".join(pdf_text((out / "letter-fi.pdf").read_bytes()).split())
    assert "Osuuskunta Pohjantähti" in letter and "08 765 4321" in letter
    assert "jasen.pohjantahti.fi/k" in letter
    assert not [trace for trace in DEMO_TRACES if trace in letter]
    result = cli("creative", "preview", str(configured.creative[PARTNER]), "--out", str(out))
    assert result.code == 0, result.err
    message = email.message_from_bytes(
        (out / "email-fi.eml").read_bytes(), policy=email.policy.default
    )
    assert message["From"].addresses[0].addr_spec == "tarjoukset@pohjantahti.fi"
    assert "mailto:pois@pohjantahti.fi" in str(message["List-Unsubscribe"])
    assert "https://jasen.pohjantahti.fi/u/" in str(message["List-Unsubscribe"])
    assert "08 765 4321" in (out / "email-fi.html").read_text(encoding="utf-8")
