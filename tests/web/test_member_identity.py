"""The member's pages and mails name the configured sender (DISPATCH_SENDER_NAME,
DISPATCH_MAIL_*, DISPATCH_ENVELOPE_SENDER), never the demo cooperative."""

from __future__ import annotations

import pytest

from tests.campaigns.conftest import world
from tests.campaigns.test_identity import IDENTITY
from tests.members.scenario import Members, centre_path, members
from tests.web.conftest import form_token

__all__ = ["members", "world"]  # fixtures, imported for pytest


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set before the campaign world and the web app read the settings."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)


def test_the_centre_and_its_confirmation_mail_name_the_configured_sender(
    identity: None, members: Members
) -> None:
    _, ids = members.email_campaign(5)
    member = ids[0]
    client = members.client()
    page = client.get(centre_path(members.mail_to(member)))
    assert page.status_code == 200
    assert '<span class="brand">Osuuskunta Pohjantähti</span>' in page.text
    assert "Osuuskauppa Esimerkki" not in page.text

    answer = client.post(
        "/centre", data={"csrf": form_token(page.text), "allow": ["market_research:email"]}
    )

    assert answer.status_code == 200
    confirmation = members.mail_to(member, subject="Vahvista")
    [sender] = confirmation["From"].addresses
    assert sender.addr_spec == "tarjoukset@pohjantahti.fi"
    assert str(confirmation["Return-Path"]) == "<palautus@pohjantahti.fi>"
    body = confirmation.get_content()
    assert body.rstrip().endswith("Pohjantähti")  # signed with DISPATCH_MAIL_FROM_NAME
    assert "https://jasen.pohjantahti.fi/c/" in body
    assert "Esimerkki" not in body and "esimerkki.fi" not in confirmation.as_string()
