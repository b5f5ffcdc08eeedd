"""Secrets at rest: nothing a user types or is given is stored as it is."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from argon2 import profiles
from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from dispatch.accounts import credentials
from dispatch.accounts import services as accounts
from dispatch.accounts.models import ApiToken, WebSession
from dispatch.errors import InputError
from tests.factories import TEST_SECRET

PASSWORD = "a long enough password"


@pytest.fixture
def production_profile() -> Iterator[None]:
    """The production parameters, which the rest of the suite swaps for cheap ones
    (tests/conftest.py)."""
    credentials.use_profile(credentials.PROFILE)
    yield
    credentials.use_profile(profiles.CHEAPEST)


def test_passwords_are_argon2id_hashes_and_verify_only_themselves(
    production_profile: None,
) -> None:
    stored = credentials.hash_password(PASSWORD)

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert credentials.check_password(stored, PASSWORD)
    assert not credentials.check_password(stored, PASSWORD + "!")
    assert not credentials.check_password(None, PASSWORD)
    assert not credentials.check_password("not a hash", PASSWORD)


def test_a_process_of_its_own_hashes_with_the_production_profile() -> None:
    """Nothing outside the test suite's own process hashes cheaply."""
    code = "from dispatch.accounts import credentials as c; print(c.hash_password('x' * 12))"
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert printed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert credentials.PROFILE == profiles.RFC_9106_LOW_MEMORY


def test_the_totp_secret_is_encrypted_and_a_wrong_key_cannot_read_it() -> None:
    secret = credentials.new_totp_secret()
    sealed = credentials.seal(TEST_SECRET, secret)

    assert secret not in sealed
    assert credentials.unseal(TEST_SECRET, sealed) == secret
    assert credentials.unseal("another-secret-key-0123", sealed) is None


def test_a_totp_code_is_accepted_once_and_one_step_of_drift_either_way() -> None:
    secret = credentials.new_totp_secret()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_000.0
    step = int(now // 30)

    assert credentials.totp_step(secret, totp.at(now), after=None, at=now) == step
    assert credentials.totp_step(secret, totp.at(now - 30), after=None, at=now) == step - 1
    assert credentials.totp_step(secret, totp.at(now), after=step, at=now) is None
    assert credentials.totp_step(secret, totp.at(now - 90), after=None, at=now) is None
    assert credentials.totp_step(secret, "12345", after=None, at=now) is None


def test_session_and_token_values_are_stored_as_hashes_only(session: Session) -> None:
    user = accounts.create_user(
        session, username="staff.x", role="auditor", actor="test", password=PASSWORD
    )
    opened = accounts.open_session(session, user, "127.0.0.1", verified=True)
    token, value = accounts.create_token(
        session, user, name="script", scope="read", days=3, actor="test"
    )
    session.flush()

    dump = " ".join(
        str(row)
        for table in ("web_sessions", "api_tokens", "users")
        for row in session.execute(text(f"SELECT * FROM {table}"))
    )
    assert opened.value not in dump and value not in dump
    assert session.scalar(select(WebSession.token_hash)) == credentials.token_hash(opened.value)
    assert session.scalar(select(ApiToken.token_hash)) == credentials.token_hash(value)
    found = accounts.check_token(session, value)
    assert found is not None and found.identity.user_id == token.user_id
    assert accounts.check_token(session, value + "x") is None


def test_short_passwords_and_bad_names_are_refused_with_the_field(session: Session) -> None:
    for kwargs, where in (
        ({"username": "x y", "role": "auditor"}, "USERNAME"),
        ({"username": "ok.name", "role": "auditor", "password": "short"}, "password"),
        ({"username": "ok.name", "role": "boss"}, "--role"),
        ({"username": "ok.name", "role": "partner_viewer"}, "--partner"),
    ):
        try:
            accounts.create_user(session, actor="test", **kwargs)  # type: ignore[arg-type]
        except InputError as exc:
            assert exc.where == where
        else:
            raise AssertionError(f"accepted {kwargs}")


def test_a_session_slides_and_a_token_records_its_use_at_most_once_a_minute(
    session: Session,
) -> None:
    user = accounts.create_user(
        session, username="staff.y", role="auditor", actor="test", password=PASSWORD
    )
    opened = accounts.open_session(session, user, "127.0.0.1", verified=True)
    _, value = accounts.create_token(
        session, user, name="script", scope="read", days=3, actor="test"
    )
    session.flush()
    first_expiry = opened.row.expires_at

    def times() -> tuple[dt.datetime, dt.datetime, dt.datetime | None]:
        query = select(WebSession.last_seen_at, WebSession.expires_at)
        seen, expires = session.execute(query).one()
        return seen, expires, session.scalar(select(ApiToken.last_used_at))

    assert accounts.check_session(session, opened.value) is not None
    assert accounts.check_token(session, value) is not None
    _, _, used = times()
    assert used is not None
    # Within the minute: nothing to write, so a request costs no UPDATE.
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert accounts.check_session(session, opened.value) is not None
        assert accounts.check_token(session, value) is not None
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements and not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert times()[1:] == (first_expiry, used)

    # Later than that, the expiry slides and the use is recorded.
    earlier = accounts.TOUCH_EVERY + dt.timedelta(seconds=1)
    seen, expires, _ = times()
    session.execute(
        update(WebSession).values(last_seen_at=seen - earlier, expires_at=expires - earlier)
    )
    session.execute(update(ApiToken).values(last_used_at=used - earlier))
    assert accounts.check_session(session, opened.value) is not None
    assert accounts.check_token(session, value) is not None
    seen, expires, last_used = times()
    assert expires > first_expiry - dt.timedelta(seconds=1)
    assert expires - seen == accounts.SESSION_IDLE
    assert last_used is not None and last_used > used - earlier
