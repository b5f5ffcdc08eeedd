"""The roles table itself: complete, and partner and staff sides kept apart."""

from __future__ import annotations

import pytest

from dispatch.accounts.roles import (
    PARTNER_ROLES,
    PERMISSIONS,
    READ_ACTIONS,
    STAFF_ROLES,
    Action,
    Role,
    allowed,
)

PARTNER_ACTIONS = {
    Action.PARTNER_VIEW,
    Action.PARTNER_UPLOAD,
    Action.PARTNER_USERS,
    Action.PARTNER_REPORT,
}


def test_every_action_has_an_entry_and_someone_who_may_do_it() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert all(PERMISSIONS[action] for action in Action)


@pytest.mark.parametrize("action", sorted(Action))
def test_no_action_is_shared_between_partner_and_staff_roles_except_self(action: Action) -> None:
    roles = PERMISSIONS[action]
    if action is Action.SELF:
        assert roles == frozenset(Role)
    elif action in PARTNER_ACTIONS:
        assert roles <= PARTNER_ROLES
    else:
        assert roles <= STAFF_ROLES


def test_separation_of_duties() -> None:
    # Who approves a campaign does not manage it; customer service sees members only.
    assert not allowed(Role.CAMPAIGN_MANAGER, Action.CAMPAIGN_APPROVE)
    assert not allowed(Role.APPROVER, Action.CAMPAIGN_MANAGE)
    assert [a for a in Action if allowed(Role.CUSTOMER_SERVICE, a)] == [
        Action.SELF,
        Action.STAFF_HOME,
        Action.MEMBER_LOOKUP,
        Action.MEMBER_ERASURE,
        Action.MEMBER_POSTAL_EXPORT,
    ]
    assert not allowed(Role.ADMIN, Action.MEMBER_LOOKUP)
    assert not allowed(Role.ADMIN, Action.MEMBER_ERASURE)
    assert not allowed(Role.ADMIN, Action.MEMBER_POSTAL_EXPORT)
    assert not any(allowed(Role.AUDITOR, a) for a in Action if a not in READ_ACTIONS)


def test_a_viewer_only_reads() -> None:
    assert [a for a in Action if allowed(Role.PARTNER_VIEWER, a)] == [
        Action.SELF,
        Action.PARTNER_VIEW,
        Action.PARTNER_REPORT,
    ]
    assert allowed(Role.PARTNER_EDITOR, Action.PARTNER_UPLOAD)
    assert not allowed(Role.PARTNER_EDITOR, Action.PARTNER_USERS)
