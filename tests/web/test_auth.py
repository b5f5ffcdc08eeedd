"""Signing in: password, second factor, lockout, CSRF, sessions and tokens."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from dispatch.accounts import services as accounts
from dispatch.db.engine import session_scope
from dispatch.register.models import AuditEntry
from tests.web.conftest import PASSWORD, Site, form_token, problem


def _login(site: Site, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    client = site.anonymous()
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )
    return client, token, response


def test_a_partner_user_signs_in_with_a_password_and_lands_on_the_portal(site: Site) -> None:
    _, _, response = _login(site, "a_viewer")

    assert response.status_code == 303
    assert response.headers["location"] == "/partner"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    with session_scope(site.engine) as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "login" in actions


def test_staff_must_enrol_a_second_factor_before_reaching_anything(site: Site) -> None:
    client, token, response = _login(site, "approver")

    assert response.headers["location"] == "/login/totp/setup"
    assert client.get("/account", follow_redirects=False).status_code == 303  # not signed in
    page = client.get("/login/totp/setup")
    secret = page.text.split('<code class="secret">')[1].split("<")[0]
    wrong = client.post("/login/totp/setup", data={"code": "000000", "csrf": token})
    assert wrong.status_code == 401
    done = client.post(
        "/login/totp/setup",
        data={"code": pyotp.TOTP(secret).now(), "csrf": token},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/staff"
    assert client.get("/account").status_code == 200


def test_a_partner_user_may_turn_on_a_second_factor_and_is_then_asked_for_it(
    site: Site,
) -> None:
    client, token, response = _login(site, "b_viewer")
    assert response.headers["location"] == "/partner"  # optional: not asked before enrolling
    assert "Turn it on" in client.get("/account").text
    page = client.get("/account/totp")
    secret = page.text.split('<code class="secret">')[1].split("<")[0]

    wrong = client.post("/account/totp", data={"code": "000000", "csrf": token})
    done = client.post(
        "/account/totp",
        data={"code": pyotp.TOTP(secret).now(), "csrf": token},
        follow_redirects=False,
    )

    assert wrong.status_code == 401
    assert done.headers["location"] == "/account"
    assert '<dd id="second-factor">on</dd>' in client.get("/account").text
    with session_scope(site.engine) as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "totp_enrol")))
    assert [e.actor for e in entries] == ["b_viewer"]
    _, _, again = _login(site, "b_viewer")
    assert again.headers["location"] == "/login/totp"


def test_a_totp_code_works_once(site: Site) -> None:
    with session_scope(site.engine) as session:
        user = accounts.get_user(session, "auditor")
        secret, _ = accounts.start_totp(site.settings.secret_key)
        code = pyotp.TOTP(secret).now()
        assert accounts.enrol_totp(session, user, site.settings.secret_key, secret, code)

    client, token, response = _login(site, "auditor")
    assert response.headers["location"] == "/login/totp"
    replay = client.post("/login/totp", data={"code": code, "csrf": token})

    assert replay.status_code == 401


def test_wrong_passwords_lock_the_account_and_the_right_one_then_fails_too(site: Site) -> None:
    for _ in range(accounts.LOCK_AFTER):
        _, _, response = _login(site, "a_editor", "not the password")
        assert response.status_code == 401

    _, _, response = _login(site, "a_editor")

    assert response.status_code == 401
    assert "locked" in response.text


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    client = site.anonymous()
    client.get("/login")

    response = client.post("/login", data={"username": "a_viewer", "password": PASSWORD})

    assert response.status_code == 403
    assert "did not come from this site" in response.text


def test_a_signed_out_session_no_longer_works(site: Site) -> None:
    client = site.client("a_viewer")
    assert client.get("/account").status_code == 200

    client.post("/logout", data={"csrf": client.csrf})  # type: ignore[attr-defined]

    assert client.get("/account", follow_redirects=False).status_code == 303


def test_a_read_token_cannot_write_and_a_revoked_token_cannot_read(site: Site) -> None:
    reader = site.api("a_editor", scope="read")
    assert reader.get("/api/v1/me").json()["username"] == "a_editor"

    with session_scope(site.engine) as session:
        user = accounts.get_user(session, "a_editor")
        for token in accounts.list_tokens(session, user):
            accounts.revoke_token(session, user, token.public_id, "a_editor")

    response = reader.get("/api/v1/me")
    assert response.status_code == 401
    assert problem(response)["status"] == 401


def test_a_disabled_user_is_signed_out_everywhere(site: Site) -> None:
    client = site.client("a_admin")
    api = site.api("a_admin")
    with session_scope(site.engine) as session:
        accounts.disable_user(session, accounts.get_user(session, "a_admin"), "admin")

    assert client.get("/account", follow_redirects=False).status_code == 303
    assert api.get("/api/v1/me").status_code == 401


def test_an_invitation_sets_a_password_once(site: Site) -> None:
    with session_scope(site.engine) as session:
        user = accounts.create_user(
            session,
            username="new.one",
            role="partner_viewer",
            actor="a_admin",
            partner=accounts.get_user(session, "a_admin").partner,
        )
        value = accounts.invite(session, user, "a_admin")
    client = site.anonymous()
    token = form_token(client.get(f"/invite/{value}").text)

    ok = client.post(
        f"/invite/{value}",
        data={"password": PASSWORD, "repeat": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    again = client.get(f"/invite/{value}")

    assert ok.status_code == 303
    assert again.status_code == 422
    assert _login(site, "new.one")[2].headers["location"] == "/partner"
