"""`dispatch account`: create, invite, list, disable and tokens, as an administrator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from dispatch.accounts import services as accounts
from dispatch.accounts.models import ApiToken, WebSession
from dispatch.db.engine import session_scope
from dispatch.register.models import AuditEntry
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
ADMIN = "maija.admin"


@pytest.fixture
def partner(cli: Cli) -> str:
    result = cli("partner", "create", "Nordic Air")
    assert result.code == 0, result.err
    return "Nordic Air"


def _create(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("account", "create", *args, "--as", ADMIN, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert isinstance(doc, dict)
    return doc


def _audit_actions(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [(e.actor, e.action) for e in session.scalars(select(AuditEntry))]


def test_created_account_gets_a_password_shown_once_that_signs_in(
    cli: Cli, engine: Engine, partner: str
) -> None:
    result = cli(
        "account", "create", "Liisa.Editor", "--role", "partner_editor",
        "--partner", partner, "--name", "Liisa", "--as", ADMIN,
    )  # fmt: skip

    assert result.code == 0, result.err
    [line] = [x for x in result.out.splitlines() if x.startswith("password (shown once): ")]
    password = line.removeprefix("password (shown once): ")
    assert result.out.count(password) == 1
    with session_scope(engine) as session:
        user = accounts.authenticate(session, "liisa.editor", password, "test")
        assert user.partner is not None and user.partner.name == partner
        assert user.password_hash is not None and password not in user.password_hash
        assert user.created_by == ADMIN
    assert (ADMIN, "account_create") in _audit_actions(engine)


def test_two_accounts_get_different_generated_passwords(cli: Cli) -> None:
    first = _create(cli, "a.staff", "--role", "auditor")
    second = _create(cli, "b.staff", "--role", "auditor")

    assert first["password"] and second["password"]
    assert first["password"] != second["password"]


def test_invite_prints_a_link_that_sets_the_password(cli: Cli, engine: Engine) -> None:
    doc = _create(
        cli, "new.approver", "--role", "approver", "--invite", "--base-url", "https://d.example/"
    )

    assert doc["password"] is None and doc["password_set"] is False
    link = doc["invitation"]
    assert link.startswith("https://d.example/invite/inv_")
    with session_scope(engine) as session:
        accounts.accept_invitation(session, link.rsplit("/", 1)[1], "a long new password 1")
    with session_scope(engine) as session:
        assert accounts.authenticate(session, "new.approver", "a long new password 1", "t")


def test_invite_again_for_a_forgotten_password(cli: Cli, engine: Engine) -> None:
    _create(cli, "forgetful", "--role", "auditor")

    result = cli("account", "invite", "forgetful", "--as", ADMIN, "--json")

    assert result.code == 0, result.err
    value = json.loads(result.out)["invitation"].rsplit("/", 1)[1]
    with session_scope(engine) as session:
        assert accounts.open_invitation(session, value).user.username == "forgetful"
    assert (ADMIN, "account_invite") in _audit_actions(engine)


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (["x.y", "--role", "editor"], "--role", "partner_editor"),  # lists the roles
        (["x.y", "--role", "partner_viewer"], "--partner", "give --partner"),
        (["x.y", "--role", "auditor", "--partner", "Nordic Air"], "--partner", "staff role"),
        (["x.y", "--role", "partner_viewer", "--partner", "Nobody"], "--partner", "Nobody"),
        (["X Y", "--role", "auditor"], "USERNAME", "lowercase"),
    ],
)
def test_bad_input_is_exit_2_with_one_line_naming_the_field(
    cli: Cli, partner: str, args: list[str], field: str, says: str
) -> None:
    result = cli("account", "create", *args, "--as", ADMIN, "--json")

    assert result.code == 2
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert field in line and says in line


def test_an_existing_name_is_refused(cli: Cli) -> None:
    _create(cli, "same.name", "--role", "auditor")

    result = cli("account", "create", "same.name", "--role", "admin", "--as", ADMIN)

    assert result.code == 2
    assert "exists already" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["create", "x.y", "--role", "auditor"],
        ["invite", "x.y"],
        ["disable", "x.y"],
        ["list"],
        ["token", "x.y", "--list"],
    ],
    ids=lambda a: a[0],
)
def test_every_account_command_needs_an_actor(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.delenv("DISPATCH_ACTOR", raising=False)

    result = cli("account", *args)

    assert result.code == 2
    assert "--as" in result.err and "administrator" in result.err


def test_list_shows_state_and_never_a_secret(cli: Cli, engine: Engine, partner: str) -> None:
    made = _create(cli, "p.viewer", "--role", "partner_viewer", "--partner", partner)
    _create(cli, "s.admin", "--role", "admin")
    cli("account", "disable", "s.admin", "--as", ADMIN)

    result = cli("account", "list", "--as", ADMIN, "--json")

    assert result.code == 0, result.err
    docs = {d["username"]: d for d in json.loads(result.out)}
    assert docs["p.viewer"]["partner"] == partner
    assert docs["p.viewer"]["disabled"] is False and docs["s.admin"]["disabled"] is True
    assert {d["second_factor"] for d in docs.values()} == {False}
    assert {d["locked"] for d in docs.values()} == {False}
    with session_scope(engine) as session:
        hashes = [u.password_hash for u in accounts.list_users(session)]
    for secret in [made["password"], *hashes]:
        assert secret and secret not in result.out
    assert "hash" not in result.out and "totp" not in result.out


def test_list_by_partner_and_as_a_table(cli: Cli, partner: str) -> None:
    _create(cli, "p.viewer", "--role", "partner_viewer", "--partner", partner)
    _create(cli, "s.auditor", "--role", "auditor")

    only = json.loads(cli("account", "list", "--partner", partner, "--as", ADMIN, "--json").out)
    table = cli("account", "list", "--as", ADMIN)

    assert [d["username"] for d in only] == ["p.viewer"]
    assert table.code == 0
    assert "p.viewer" in table.out and "s.auditor" in table.out and "Nordic Air" in table.out


def test_disable_ends_sessions_and_tokens_at_once(cli: Cli, engine: Engine) -> None:
    doc = _create(cli, "leaver", "--role", "auditor")
    with session_scope(engine) as session:
        user = accounts.get_user(session, "leaver")
        opened = accounts.open_session(session, user, "t", verified=True)
    made = cli("account", "token", "leaver", "--name", "ci", "--as", ADMIN, "--json")
    value = json.loads(made.out)["value"]

    result = cli("account", "disable", "leaver", "--as", ADMIN)

    assert result.code == 0, result.err
    with session_scope(engine) as session:
        assert accounts.find_session(session, opened.value) is None
        assert accounts.check_token(session, value) is None
        row = session.get(WebSession, opened.row.token_hash)
        assert row is not None and row.revoked_at is not None
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(session, "leaver", doc["password"], "t")
    assert (ADMIN, "account_disable") in _audit_actions(engine)


def test_token_value_printed_once_works_and_can_be_revoked(cli: Cli, engine: Engine) -> None:
    _create(cli, "robot", "--role", "campaign_manager")

    made = cli(
        "account", "token", "robot", "--name", "nightly", "--scope", "write", "--days", "7",
        "--as", ADMIN,
    )  # fmt: skip

    assert made.code == 0, made.err
    value = made.out.split("value (shown once): ")[1].strip()
    assert made.out.count(value) == 1
    with session_scope(engine) as session:
        found = accounts.check_token(session, value)
        assert found is not None and found.scope == "write"
        assert found.identity.username == "robot"
        token_id = session.scalar(
            select(ApiToken.public_id).where(ApiToken.user_id == found.identity.user_id)
        )
    listed = json.loads(cli("account", "token", "robot", "--list", "--as", ADMIN, "--json").out)
    assert [(t["id"], t["state"]) for t in listed] == [(token_id, "active")]
    assert value not in json.dumps(listed)

    revoked = cli("account", "token", "robot", "--revoke", token_id, "--as", ADMIN)

    assert revoked.code == 0, revoked.err
    with session_scope(engine) as session:
        assert accounts.check_token(session, value) is None
    listed = json.loads(cli("account", "token", "robot", "--list", "--as", ADMIN, "--json").out)
    assert listed[0]["state"] == "revoked"
    actions = _audit_actions(engine)
    assert (ADMIN, "token_create") in actions and (ADMIN, "token_revoke") in actions


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--name", "x", "--scope", "admin"], "--scope"),
        (["--name", "x", "--days", "0"], "--days"),
        ([], "--name"),
        (["--name", "x", "--list"], "--name"),
        (["--revoke", "tk_nonesuch"], "--revoke"),
    ],
)
def test_bad_token_input_is_exit_2(cli: Cli, args: list[str], field: str) -> None:
    _create(cli, "robot", "--role", "auditor")

    result = cli("account", "token", "robot", *args, "--as", ADMIN)

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert field in line


def test_unknown_user_is_exit_2(cli: Cli) -> None:
    result = cli("account", "disable", "nobody", "--as", ADMIN)

    assert result.code == 2
    assert "USERNAME" in result.err and "nobody" in result.err
