"""`dispatch creative preview`: the real letter and e-mail, on synthetic recipients only."""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from dispatch.rendering import preflight
from tests import factories
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
DEMO = Path(__file__).resolve().parents[2] / "templates" / "creatives" / "nordic-air-spring"


def _submitted(cli: Cli) -> int:
    assert cli("partner", "create", "Nordic Air").code == 0
    result = cli("creative", "submit", "Nordic Air", str(DEMO), "--json")
    assert result.code == 0, result.err
    return int(result.json()["id"])  # type: ignore[index]


def test_preview_writes_letter_pdf_png_and_email_in_both_languages(
    cli: Cli, tmp_path: Path
) -> None:
    version = _submitted(cli)
    out = tmp_path / "preview"
    result = cli("creative", "preview", str(version), "--out", str(out), "--json")
    assert result.code == 0, result.err
    kinds = {(f["kind"], f["language"]) for f in result.json()["files"]}  # type: ignore[index]
    for language in ("fi", "sv"):
        assert {("letter-pdf", language), ("letter-png", language)} <= kinds
        assert {("email-eml", language), ("email-html", language)} <= kinds
        pdf = (out / f"letter-{language}.pdf").read_bytes()
        assert preflight(pdf) == []
        page = Image.open(io.BytesIO((out / f"letter-{language}-p1.png").read_bytes()))
        assert page.width < page.height  # portrait A4
        assert page.convert("L").getextrema()[0] < 100  # something dark is printed
        message = email.message_from_bytes(
            (out / f"email-{language}.eml").read_bytes(), policy=email.policy.default
        )
        assert message.get_content_type() == "multipart/related" or message.is_multipart()
        html = (out / f"email-{language}.html").read_text(encoding="utf-8")
        assert "cid:" not in html
        # Nothing is loaded from anywhere; the footer's links lead to the member's pages
        # on DISPATCH_PUBLIC_URL (the demo's is the local `dispatch serve`, over http).
        assert 'src="http' not in html


def test_preview_never_contains_a_register_member(
    cli: Cli, tmp_path: Path, session: Session
) -> None:
    member = factories.member(
        session,
        first_name="Zacharias",
        last_name="Realmemberson",
        street="Oikeakatu 99",
        email="real.member@example.test",
    )
    session.commit()
    version = _submitted(cli)
    out = tmp_path / "preview"
    assert cli("creative", "preview", str(version), "--out", str(out)).code == 0
    blob = b"".join(p.read_bytes() for p in sorted(out.iterdir()))
    for value in (member.first_name, member.last_name, member.street, member.email):
        assert value is not None
        assert value.encode() not in blob
    assert b"Esimerkki" in blob  # the synthetic persona is what was rendered


def test_preview_of_an_unknown_version_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("creative", "preview", "999", "--out", str(tmp_path / "p"))
    assert result.code == 2  # an unknown id is bad input, like every `creative` command
    assert "999" in result.err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("missing", [["--out"], []])
def test_preview_needs_an_out_folder(cli: Cli, missing: list[str]) -> None:
    assert cli("creative", "preview", "1", *missing).code == 2
