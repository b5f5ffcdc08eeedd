"""`dispatch demo`: the whole flow, end to end, on a small register."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dispatch.accounts import services as accounts
from dispatch.accounts.roles import Role
from dispatch.cli.demo import DEMO_ACTOR, DEMO_APPROVER, DEMO_HOUSE
from dispatch.config import Settings
from dispatch.db.engine import make_engine, session_scope
from dispatch.web.app import create_app
from tests.conftest import CliResult
from tests.web.conftest import form_token

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _small_partner_audience(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # 400 members give the e-mail campaign about seven recipients, under the default
    # 100; a minimum of 5 failed its snapshot whenever the random 10 % holdout took three.
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "1")


def _demo(cli: Cli, *extra: str) -> dict[str, Any]:
    result = cli(
        "demo",
        "--members",
        "400",
        "--segments",
        str(ROOT / "segments"),
        "--creatives",
        str(ROOT / "templates" / "creatives"),
        "--json",
        *extra,
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert isinstance(doc, dict)
    return doc


@pytest.mark.slow
def test_demo_run_twice_on_one_register(cli: Cli, env: dict[str, str], settings: Settings) -> None:
    """The first run does the whole flow; the second reuses what the first made. (One
    test rather than one per property: each run of the demo takes several seconds.)"""
    first = _demo(cli)
    _seeds_counts_every_segment_and_previews_every_creative(first)
    _runs_a_post_and_an_email_campaign_to_the_print_house(first, env)
    _prints_a_members_centre_link_and_letter_code_that_open_the_centre(first, settings)

    second = _demo(cli)
    _reuses_register_and_approved_creatives(first, second)
    _reuses_completed_campaigns(first, second)
    _makes_an_account_of_every_role_with_new_passwords_each_run(first, second, settings)


def _seeds_counts_every_segment_and_previews_every_creative(doc: dict[str, Any]) -> None:
    assert doc["register"]["seeded"] is True
    assert doc["register"]["counts"]["members"] == 400
    segments = doc["segments"]
    assert len(segments) == len(list((ROOT / "segments").glob("*.yaml")))
    for row in segments:
        assert row["ok"], row
        assert row["matched"] == row["selected"] + sum(row["removed"].values())
    bundles = sorted(p.name for p in (ROOT / "templates" / "creatives").iterdir() if p.is_dir())
    assert sorted(Path(c["bundle"]).name for c in doc["creatives"]) == bundles
    for creative in doc["creatives"]:
        assert creative["status"] == "approved"
        pdfs = [p for p in creative["previews"] if p.endswith(".pdf")]
        assert pdfs and all(Path(p).read_bytes().startswith(b"%PDF-") for p in pdfs)


def _reuses_register_and_approved_creatives(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert second["register"] == {"seeded": False}
    assert [c["version_id"] for c in second["creatives"]] == [
        c["version_id"] for c in first["creatives"]
    ]
    assert [r["selected"] for r in second["segments"]] == [r["selected"] for r in first["segments"]]


def _runs_a_post_and_an_email_campaign_to_the_print_house(
    doc: dict[str, Any], env: dict[str, str]
) -> None:

    by_channel = {c["campaign"]["channel"]: c for c in doc["campaigns"]}
    assert set(by_channel) == {"post", "email"}
    for item in by_channel.values():
        assert item["campaign"]["status"] == "completed"
        assert item["reconciled"] is True
        total = item["total"]
        assert total["snapshot"] > 0 and total["in_flight"] == 0
        assert total["snapshot"] == (
            total["delivered"]
            + sum(total["suppressed"].values())
            + sum(total["failed"].values())
            + total["held_out"]
        )
    assert by_channel["post"]["total"]["held_out"] > 0  # the lift's comparison group
    # Each completed campaign's partner reports were released (or refused, saying why).
    released = {r["campaign"]: r for r in doc["partner_reports"]}
    assert len(released) == 2
    for report in released.values():
        assert report["report"]["available"] or report["report"]["reason"]
        assert report["lift"]["available"] or report["lift"]["reason"]
        assert report["budget"]["spent_epsilon"] > 0
    # The print house collected every post batch with its own key, as decrypted PDFs.
    post = by_channel["post"]
    batches = [b for b in post["batches"] if b["letters"]]
    assert len(doc["printhouse"]["collected"]) == len(batches)
    spool = Path(doc["printhouse"]["spool"])
    letters = 0
    for batch_id in doc["printhouse"]["collected"]:
        pdf = spool / batch_id / "letters.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-")
        letters += json.loads((spool / batch_id / "manifest.json").read_text())["letter_count"]
    assert letters == post["total"]["delivered"]
    # Every delivered e-mail is one message in the maildir.
    maildir = Path(env["DISPATCH_VAR_DIR"]) / "mail" / "new"
    assert len(list(maildir.iterdir())) == by_channel["email"]["total"]["delivered"]


def _reuses_completed_campaigns(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert [c["reused"] for c in second["campaigns"]] == [True, True]
    assert [c["campaign"]["id"] for c in second["campaigns"]] == [
        c["campaign"]["id"] for c in first["campaigns"]
    ]


def _makes_an_account_of_every_role_with_new_passwords_each_run(
    first_run: dict[str, Any], second_run: dict[str, Any], settings: Settings
) -> None:
    first, second = first_run["accounts"], second_run["accounts"]
    assert {a["role"] for a in first} == {r.value for r in Role}
    assert {a["username"] for a in first} >= {
        DEMO_ACTOR, DEMO_APPROVER, "demo.admin", "nordic.editor", "coop.editor",
    }  # fmt: skip
    assert all(a["created"] for a in first) and not any(a["created"] for a in second)
    # Generated, never hard-coded: each run prints new ones, and only the newest works.
    old = {a["username"]: a["password"] for a in first}
    assert all(a["password"] != old[a["username"]] for a in second)
    assert len({a["password"] for a in first + second}) == 2 * len(first)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            for account in second:
                user = accounts.authenticate(session, account["username"], account["password"], "t")
                assert user.role == account["role"]
                assert (user.partner.name if user.partner else None) == account["partner"]
            with pytest.raises(accounts.LoginRefused):
                accounts.authenticate(session, "nordic.editor", old["nordic.editor"], "t")
    finally:
        engine.dispose()
    by_name = {a["username"]: a for a in second}
    assert by_name["nordic.editor"]["partner"] == "Nordic Air"
    assert by_name["coop.editor"]["partner"] == DEMO_HOUSE
    assert by_name["demo.approver"]["second_factor"] == "enrol at first sign-in"


def test_demo_tells_whom_to_sign_in_as(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also on a register too small for the partner minimum: the campaigns are skipped
    with the reason (as `campaign create` refuses them), and the demo goes on."""
    monkeypatch.setenv("DISPATCH_MIN_PARTNER_AUDIENCE", "100000")
    result = cli(
        "demo", "--members", "300",
        "--segments", str(ROOT / "segments"),
        "--creatives", str(ROOT / "templates" / "creatives"),
    )  # fmt: skip

    assert result.code == 0, result.err
    out = " ".join(result.out.split())
    assert ".venv/bin/dispatch serve" in out and "http://127.0.0.1:8000/login" in out
    assert "nordic.editor" in out and "demo.approver" in out and "QR code" in out
    skipped = " ".join(result.err.split())
    assert skipped.count("not running nordic-air-spring") == 2
    assert "a partner campaign needs at least 100000 recipients" in skipped


def _prints_a_members_centre_link_and_letter_code_that_open_the_centre(
    doc: dict[str, Any], settings: Settings
) -> None:
    member = doc["member"]
    assert member["centre_link"].startswith(settings.public_url + "/p/")
    app = create_app(settings)
    try:
        client = TestClient(app, base_url="http://testserver")
        centre = client.get(member["centre_link"].removeprefix(settings.public_url))
        assert centre.status_code == 200 and str(centre.url).endswith("/centre")
        letter = TestClient(app, base_url="http://testserver")
        form = letter.get("/k")
        entered = letter.post(
            "/k", data={"csrf": form_token(form.text), "code": member["letter_code"]}
        )
        assert entered.status_code == 200 and str(entered.url).endswith("/centre")
    finally:
        app.state.engine.dispose()
