"""The one roles table: which role may do which action.

Every route names exactly one :class:`Action`; :func:`allowed` is the only place
that answers "may this user do that". Partner roles additionally only ever reach
their own partner's objects (the tenancy check in :mod:`dispatch.web.access`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    CAMPAIGN_MANAGER = "campaign_manager"
    APPROVER = "approver"
    CUSTOMER_SERVICE = "customer_service"
    AUDITOR = "auditor"
    ADMIN = "admin"
    PARTNER_ADMIN = "partner_admin"
    PARTNER_EDITOR = "partner_editor"
    PARTNER_VIEWER = "partner_viewer"

    @property
    def is_partner(self) -> bool:
        return self in PARTNER_ROLES

    @property
    def label(self) -> str:
        return LABELS[self]


STAFF_ROLES = frozenset(
    {Role.CAMPAIGN_MANAGER, Role.APPROVER, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.ADMIN}
)
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_EDITOR, Role.PARTNER_VIEWER})

LABELS: Mapping[Role, str] = MappingProxyType(
    {
        Role.CAMPAIGN_MANAGER: "Campaign manager",
        Role.APPROVER: "Approver",
        Role.CUSTOMER_SERVICE: "Customer service",
        Role.AUDITOR: "Auditor",
        Role.ADMIN: "Administrator",
        Role.PARTNER_ADMIN: "Partner administrator",
        Role.PARTNER_EDITOR: "Editor",
        Role.PARTNER_VIEWER: "Viewer",
    }
)


class Action(StrEnum):
    """What a route does; each route of the service names one."""

    #: Own profile, own API tokens, own second factor, log out.
    SELF = "self"
    # --- partner side (always scoped to the user's own partner) ---
    PARTNER_VIEW = "partner.view"
    PARTNER_UPLOAD = "partner.upload"
    PARTNER_USERS = "partner.users"
    #: Reports on the partner's campaigns (noisy aggregates; spends its privacy budget).
    PARTNER_REPORT = "partner.report"
    # --- staff side ---
    STAFF_HOME = "staff.home"
    CREATIVE_VIEW = "creative.view"
    CREATIVE_DECIDE = "creative.decide"
    CAMPAIGN_VIEW = "campaign.view"
    CAMPAIGN_MANAGE = "campaign.manage"
    CAMPAIGN_APPROVE = "campaign.approve"
    SEGMENT_VIEW = "segment.view"
    MEMBER_LOOKUP = "member.lookup"
    #: The queue of erasure requests members made in the preference centre.
    MEMBER_ERASURE = "member.erasure"
    #: The queue of members' requests for their data by post: print, post, decline.
    MEMBER_POSTAL_EXPORT = "member.postal_export"
    AUDIT_VIEW = "audit.view"
    ACCOUNT_MANAGE = "account.manage"


R = Role
_ALL = frozenset(Role)
_STAFF_READERS = frozenset({R.CAMPAIGN_MANAGER, R.APPROVER, R.AUDITOR})

PERMISSIONS: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        Action.SELF: _ALL,
        Action.PARTNER_VIEW: PARTNER_ROLES,
        Action.PARTNER_UPLOAD: frozenset({R.PARTNER_ADMIN, R.PARTNER_EDITOR}),
        Action.PARTNER_USERS: frozenset({R.PARTNER_ADMIN}),
        Action.PARTNER_REPORT: PARTNER_ROLES,
        Action.STAFF_HOME: STAFF_ROLES,
        Action.CREATIVE_VIEW: _STAFF_READERS,
        Action.CREATIVE_DECIDE: frozenset({R.APPROVER, R.CAMPAIGN_MANAGER}),
        Action.CAMPAIGN_VIEW: _STAFF_READERS,
        Action.CAMPAIGN_MANAGE: frozenset({R.CAMPAIGN_MANAGER}),
        Action.CAMPAIGN_APPROVE: frozenset({R.APPROVER}),
        Action.SEGMENT_VIEW: _STAFF_READERS,
        Action.MEMBER_LOOKUP: frozenset({R.CUSTOMER_SERVICE}),
        Action.MEMBER_ERASURE: frozenset({R.CUSTOMER_SERVICE}),
        Action.MEMBER_POSTAL_EXPORT: frozenset({R.CUSTOMER_SERVICE}),
        Action.AUDIT_VIEW: frozenset({R.AUDITOR, R.ADMIN}),
        Action.ACCOUNT_MANAGE: frozenset({R.ADMIN}),
    }
)

#: Actions an API token with the read scope may use (the rest need the write scope).
READ_ACTIONS = frozenset(
    {
        Action.SELF,
        Action.PARTNER_VIEW,
        Action.PARTNER_REPORT,
        Action.STAFF_HOME,
        Action.CREATIVE_VIEW,
        Action.CAMPAIGN_VIEW,
        Action.SEGMENT_VIEW,
        Action.AUDIT_VIEW,
    }
)


def allowed(role: Role | str, action: Action) -> bool:
    """May a user with ``role`` perform ``action``? The only answer to that question."""
    return Role(role) in PERMISSIONS[action]
