"""``dispatch partner`` and ``dispatch creative``: the CLI contract on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult
from tests.creatives.builders import valid_files, write_dir, zip_bytes

Cli = Callable[..., CliResult]
DEMOS = Path(__file__).resolve().parents[2] / "templates" / "creatives"


@pytest.fixture
def nordic(cli: Cli) -> None:
    assert cli("partner", "create", "Nordic Air").code == 0


def submit(cli: Cli, path: Path, partner: str = "Nordic Air") -> dict[str, Any]:
    result = cli("creative", "submit", partner, str(path), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    "args",
    [("partner", "--help"), ("creative", "--help"), ("creative", "submit", "--help")],
)
def test_help_works_without_a_database(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 0
    assert "Usage:" in result.out


def test_partner_create_and_list(cli: Cli) -> None:
    result = cli("partner", "create", "Nordic Air")
    assert (result.code, result.out.strip()) == (0, "partner 1: Nordic Air")
    assert cli("partner", "create", "Nordic Air").code == 2
    listed = cli("partner", "list", "--json")
    assert listed.code == 0
    assert [p["name"] for p in listed.json()] == ["Nordic Air"]  # type: ignore[union-attr]


def test_the_cooperative_is_a_partner_marked_as_the_house(cli: Cli) -> None:
    assert cli("partner", "create", "Nordic Air").code == 0
    made = cli("partner", "create", "Osuuskauppa", "--house")
    assert (made.code, made.out.strip()) == (0, "partner 2: Osuuskauppa (the cooperative)")
    houses = {p["name"]: p["house"] for p in cli("partner", "list", "--json").json()}  # type: ignore[union-attr]
    assert houses == {"Nordic Air": False, "Osuuskauppa": True}

    assert cli("partner", "house", "Nordic Air").code == 0
    assert all(p["house"] for p in cli("partner", "list", "--json").json())  # type: ignore[union-attr]
    missing = cli("partner", "house", "Nobody")
    assert missing.code == 2 and "no partner named 'Nobody'" in missing.err


def test_submit_from_folder_and_zip_makes_versions(cli: Cli, nordic: None, tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "b", valid_files())
    first = cli("creative", "submit", "Nordic Air", str(folder))
    assert first.code == 0, first.err
    assert "spring-offer version 1 submitted" in first.out
    archive = tmp_path / "b.zip"
    archive.write_bytes(
        zip_bytes({**valid_files(), "email.txt.j2": b"{{ campaign.texts.greeting }}"})
    )
    second = submit(cli, archive)
    assert (second["ok"], second["version"], second["creative"]) == (True, 2, "spring-offer")


def test_hostile_bundle_exits_2_lists_every_problem_and_stores_nothing(
    cli: Cli, nordic: None, tmp_path: Path
) -> None:
    files = {
        **valid_files(),
        "letter.html.j2": b"<p>{{ recipient.email }}</p>\n<img src='http://evil/p.png'>",
        "assets/x.js": b"alert(1)",
    }
    path = tmp_path / "bad.zip"
    path.write_bytes(zip_bytes({**files, "../escape.txt": b"x"}))
    result = cli("creative", "submit", "Nordic Air", str(path))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert "dispatch: letter.html.j2:1: unknown field recipient.email: use" in result.err
    assert "letter.html.j2:2: <img src>: remote or external reference" in result.err
    assert "assets/x.js: file type not allowed" in result.err
    assert "path traversal" in result.err
    assert lines[-1].startswith("dispatch: error: bundle rejected: ")
    assert result.out == ""
    assert cli("creative", "list", "--json").json() == []


def test_hostile_bundle_with_json_prints_one_document(
    cli: Cli, nordic: None, tmp_path: Path
) -> None:
    files = {**valid_files(), "email.txt.j2": b"{{ ''.__class__ }}"}
    result = cli(
        "creative", "submit", "Nordic Air", str(write_dir(tmp_path / "b", files)), "--json"
    )
    assert result.code == 2
    doc = result.json()
    assert doc == {
        "ok": False,
        "problems": [
            {"file": "email.txt.j2", "line": 1, "reason": "attribute '__class__' is not allowed"}
        ],
    }


def test_submit_to_unknown_partner_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("creative", "submit", "Nobody", str(write_dir(tmp_path / "b", valid_files())))
    assert result.code == 2
    assert "PARTNER: no partner named 'Nobody'" in result.err


def test_list_show_approve_reject(cli: Cli, nordic: None, tmp_path: Path) -> None:
    doc = submit(cli, DEMOS / "nordic-air-spring")
    vid = str(doc["id"])
    listed = cli("creative", "list", "--partner", "Nordic Air", "--json").json()
    assert [(v["creative"], v["status"]) for v in listed] == [("nordic-air-spring", "submitted")]  # type: ignore[index,union-attr]

    shown = cli("creative", "show", vid, "--json")
    assert shown.code == 0
    body = shown.json()
    assert isinstance(body, dict)
    assert body["content_hash"] == doc["content_hash"]
    assert body["manifest"]["channels"] == ["post", "email"]
    assert {
        "path": "assets/logo.png",
        "size": (DEMOS / "nordic-air-spring/assets/logo.png").stat().st_size,
    } in body["files"]
    text = cli("creative", "show", vid)
    assert "(verified)" in text.out

    no_actor = cli("creative", "approve", vid)
    assert (no_actor.code, "--as:" in no_actor.err) == (2, True)
    approved = cli("creative", "approve", vid, "--as", "staff.anna", "--json")
    assert approved.code == 0
    assert approved.json()["decided_by"] == "staff.anna"  # type: ignore[index]
    again = cli("creative", "reject", vid, "--reason", "late", "--as", "staff.bo")
    assert again.code == 1
    assert "only a submitted version" in again.err


def test_reject_with_reason(cli: Cli, nordic: None) -> None:
    vid = str(submit(cli, DEMOS / "nordic-air-spring")["id"])
    missing = cli("creative", "reject", vid, "--as", "staff.anna")
    assert missing.code == 2
    result = cli("creative", "reject", vid, "--reason", "Logo too small", "--as", "staff.anna")
    assert result.code == 0
    shown = cli("creative", "show", vid, "--json").json()
    assert (shown["status"], shown["reason"]) == ("rejected", "Logo too small")  # type: ignore[index]


def test_unknown_version_exits_2(cli: Cli) -> None:
    result = cli("creative", "show", "4242")
    assert result.code == 2
    assert "ID: no creative version 4242" in result.err


def test_both_demo_bundles_submit(cli: Cli) -> None:
    assert cli("partner", "create", "Nordic Air").code == 0
    assert cli("partner", "create", "Osuuskauppa").code == 0
    submit(cli, DEMOS / "nordic-air-spring")
    submit(cli, DEMOS / "coop-bicycles", "Osuuskauppa")
    names = [v["creative"] for v in cli("creative", "list", "--json").json()]  # type: ignore[union-attr]
    assert names == ["nordic-air-spring", "coop-bicycles"]
