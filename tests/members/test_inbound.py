"""``dispatch mailer inbound``: the List-Unsubscribe mailto: mails, from a Maildir and IMAP.

Each member answers a real campaign's e-mail the way a mail client does with the
``mailto:`` of its List-Unsubscribe header: a mail to that address whose subject is
the token. The Maildir is the embedded default; IMAP (production) is tested against
a small IMAP server on loopback (``tests/members/imap_server.py``: no IMAP server is
installed here, and none may be downloaded).
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from dispatch.errors import OperationError
from dispatch.members import inbound
from tests.campaigns.conftest import world
from tests.conftest import CliResult
from tests.members.imap_server import ImapServer
from tests.members.scenario import Members, mailto_token, members

__all__ = ["members", "world"]  # fixtures, imported for pytest


def reply(members: Members, member_id: int, subject: str | None = None) -> bytes:
    """The mail a member's client sends to the mailto: of List-Unsubscribe."""
    address, token = mailto_token(members.mail_to(member_id))
    message = EmailMessage()
    message["From"] = members.address(member_id)
    message["To"] = address
    message["Subject"] = subject if subject is not None else token
    message.set_content("unsubscribe\n")
    return message.as_bytes()


def stray(members: Members) -> bytes:
    message = EmailMessage()
    message["From"] = "someone@example.test"
    message["To"] = "peruutus@esimerkki.fi"
    message["Subject"] = "Re: kysymys tarjouksesta"
    message.set_content("Hei, onko tarjous voimassa?\n")
    return message.as_bytes()


def test_maildir_mails_withdraw_once_and_what_is_not_one_stays_for_a_person(
    members: Members, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    cid, ids = members.email_campaign(5)
    box = mailbox.Maildir(tmp_path / "inbound", create=True)
    box.add(reply(members, ids[0]))
    box.add(reply(members, ids[1], subject=f"Re: {mailto_token(members.mail_to(ids[1]))[1]}"))
    box.add(reply(members, ids[0]))  # sent twice
    box.add(stray(members))
    forged = reply(members, ids[2], subject="A" * 43)
    box.add(forged)

    first = cli("mailer", "inbound", "--from", f"maildir://{tmp_path / 'inbound'}", "--json")
    again = cli("mailer", "inbound", "--from", f"maildir://{tmp_path / 'inbound'}", "--json")

    assert first.code == 0, first.err
    assert first.json() == {"withdrawn": 2, "already": 1, "kept": 2}
    assert again.json() == {"withdrawn": 0, "already": 0, "kept": 0}
    for member in ids[:2]:
        assert members.ledger(member)[0] == {
            "purpose": "partner_marketing",
            "channel": "email",
            "decision": "refused",
            "source": "unsubscribe-mail",
            "campaign_id": cid,
        }
    assert members.ledger(ids[2])[0]["source"] == "test"  # the forged token changed nothing
    left = mailbox.Maildir(tmp_path / "inbound", create=False)
    assert sorted(m["Subject"] for m in left) == ["A" * 43, "Re: kysymys tarjouksesta"]
    assert {m.get_subdir() for m in left} == {"cur"} and all("S" in m.get_flags() for m in left)
    assert members.address(ids[0]) not in first.out + first.err


def test_the_command_without_json_prints_counts_and_the_default_mailbox_is_under_var(
    members: Members, cli: Callable[..., CliResult]
) -> None:
    _, ids = members.email_campaign(5)
    mailbox.Maildir(members.world.var / "inbound", create=True).add(reply(members, ids[3]))

    done = cli("mailer", "inbound")

    assert done.code == 0, done.err
    assert done.out.strip().startswith("1 withdrawn, 0 already withdrawn, 0 left")


def test_imap_mails_are_applied_deleted_and_strays_marked_seen(members: Members) -> None:
    cid, ids = members.email_campaign(5)
    with ImapServer() as server:
        applied = server.folder.add(reply(members, ids[0]))
        kept = server.folder.add(stray(members))
        box = inbound.open_mailbox(server.url())
        try:
            result = inbound.process(members.world.engine, box, members.secret)
        finally:
            box.close()

        assert (result.withdrawn, result.already, result.kept) == (1, 0, 1)
        assert applied not in server.folder.messages  # deleted and expunged
        assert server.folder.flags(kept) == {"\\Seen"}
        assert "UID SEARCH UNSEEN" in server.folder.commands
        assert f"UID FETCH {applied} (BODY.PEEK[])" in server.folder.commands
    assert members.ledger(ids[0])[0]["source"] == "unsubscribe-mail"
    assert members.ledger(ids[0])[0]["campaign_id"] == cid


def test_imap_sign_in_failure_is_one_line_without_the_password(members: Members) -> None:
    with ImapServer() as server, pytest.raises(OperationError) as refused:
        inbound.open_mailbox(server.url(password="wrong"))

    message = str(refused.value)
    assert "cannot sign in to the IMAP server" in message and "wrong" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://x/y", "expected maildir://PATH, imap://... or imaps://..."),
        ("imap://host/INBOX", "needs a user and a password"),
        ("imap://u:p@host/INBOX?starttls=maybe", "starttls must be on or off"),
    ],
)
def test_a_bad_mailbox_url_is_a_one_line_input_error(
    cli: Callable[..., CliResult], url: str, complaint: str
) -> None:
    done = cli("mailer", "inbound", "--from", url)

    assert done.code == 2
    assert complaint in done.err and len(done.err.strip().splitlines()) == 1
