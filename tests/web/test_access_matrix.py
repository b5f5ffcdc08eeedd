"""Every route against every kind of caller: the roles table and tenancy, as a matrix.

For each route (method and path) the caller is anonymous, a user of each partner
role of partner A or partner B, or a user of each staff role, and every path id is
one of partner B's objects. The expected answer follows from the route's declared
action and the roles table: 401 without an account, 403 for a role the table does
not allow, 404 for partner A's users on partner B's objects (and not one byte of B's
data), anything but those for everyone else.

Member routes declare the member link that opens them instead of an action: without
one, no caller gets in, whatever account it has (401 without a session, 404 for an
unknown link, 429 once the caller's address has failed too often).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.accounts.roles import PERMISSIONS, Action
from dispatch.campaigns import services as campaigns
from dispatch.creatives import services as creatives
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.members.models import ErasureRequest, PostalExportRequest
from dispatch.register.tokens import LinkPurpose
from dispatch.web import csrf
from tests import factories
from tests.campaigns.conftest import segment_text
from tests.web.access_routes import api_routes, route_action, route_member_link
from tests.web.conftest import PARTNER_B, USERS, Site

#: Routes anyone may call: signing in, the invitation link, health and the API document,
#: and the page where a member types the code of a letter (it shows nothing).
PUBLIC = {
    ("GET", "/k"),
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/totp"),
    ("POST", "/login/totp"),
    ("GET", "/login/totp/setup"),
    ("POST", "/login/totp/setup"),
    ("POST", "/logout"),
    ("GET", "/invite/{value}"),
    ("POST", "/invite/{value}"),
}
PARTNER_ACTIONS = {
    Action.PARTNER_VIEW,
    Action.PARTNER_UPLOAD,
    Action.PARTNER_USERS,
    Action.PARTNER_REPORT,
}
#: Parameters that name a partner's object (partner A's users must get 404 for B's).
OBJECT_PARAMS = {"creative_id", "version_id", "campaign_id"}


def routes(site: Site) -> list[tuple[str, str, Action | LinkPurpose | None]]:
    """Every route with what guards it: an action, a member link, or nothing (public)."""
    out: list[tuple[str, str, Action | LinkPurpose | None]] = []
    for path, methods, route in api_routes(site.app):
        action, link = route_action(route), route_member_link(route)
        assert not (action and link), f"{path} is guarded by an account and a member link"
        for method in sorted(methods - {"HEAD"}):
            out.append((method, path, action or link))
    return sorted(out, key=lambda r: (r[1], r[0]))


@dataclass
class Objects:
    """Partner B's objects, by path parameter."""

    values: dict[str, str]
    #: Strings that identify B's data (must not reach partner A).
    markers: list[str]


def partner_b_objects(site: Site, folder: Path) -> Objects:
    segment = folder / "b-email.yaml"
    segment.write_text(segment_text("b-email", "partner_marketing", "email"))
    with session_scope(site.engine) as session:
        factories.member(session)  # the segment's region must exist
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_B])
        )
        assert version is not None
        other = creatives.store_bundle(
            session,
            version.creative.partner,
            creatives.load_version_bundle(version),
            submitted_by="b_editor",
        )
        creatives.approve(session, other.id, "approver")
        campaign = campaigns.create(
            session,
            partner=PARTNER_B,
            creative_version_id=other.id,
            segment_path=segment,
            channel="email",
            actor="manager",
            min_partner_audience=0,  # an object to reach, never sent
        )
        values = {
            "creative_id": version.creative.public_id,
            "version_id": version.public_id,
            "campaign_id": campaign.public_id,
        }
        member = factories.member(session)
        request = ErasureRequest(member_id=member.id, source="centre:letter")
        session.add(request)
        session.flush()
        values["request_id"] = request.public_id
        export = PostalExportRequest(member_id=member.id, source="centre:letter", cause="no_email")
        session.add(export)
        session.flush()
        values["export_id"] = export.public_id
    values |= {
        "token": "not-a-member-link-0000000000000000000000000",
        "name": "letter-fi-p1.png",
        "public_id": "tk_doesnotexist00000",
        "value": "inv_doesnotexist",
    }
    markers = [values["creative_id"], values["version_id"], values["campaign_id"], PARTNER_B]
    return Objects(values, markers)


#: What a member route answers a caller without its member link.
MEMBER_REFUSALS = {401, 404, 429}


def expected(action: Action | LinkPurpose, user: str | None, path: str) -> set[int] | None:
    """The statuses a caller must get (None: anything but 401, 403 and 404)."""
    if isinstance(action, LinkPurpose):
        return MEMBER_REFUSALS
    if user is None:
        return {401, 303}  # 303: a page sends the browser to the sign-in page
    role, partner = USERS[user]
    if role not in PERMISSIONS[action]:
        return {403}
    has_object = any(f"{{{p}}}" in path for p in OBJECT_PARAMS)
    if role.is_partner and action in PARTNER_ACTIONS and has_object and partner != PARTNER_B:
        return {404}
    return None


def call(site: Site, user: str | None, method: str, path: str) -> Any:
    api = path.startswith("/api/")
    if user is None:
        # With a valid CSRF pair, so that what answers is the access check.
        client = site.anonymous()
        client.cookies.set(csrf.COOKIE, "anonymous-csrf-cookie-0123456789")
        client.csrf = csrf.token_for(site.settings.secret_key, "anonymous-csrf-cookie-0123456789")  # type: ignore[attr-defined]
    else:
        client = site.api(user) if api else site.client(user)
    data = {"csrf": getattr(client, "csrf", "")}
    if method == "GET":
        return client.get(path, follow_redirects=False)
    if api:
        return client.request(method, path, json={}, follow_redirects=False)
    return client.request(method, path, data=data, follow_redirects=False)


def test_every_route_is_public_or_declares_one_action(site: Site) -> None:
    assert len(routes(site)) > 40  # the walk finds the routes (FastAPI keeps them nested)
    member_routes = {(m, p) for m, p, a in routes(site) if isinstance(a, LinkPurpose)}
    # The member's side is there, each way in guarded by its own kind of link.
    assert ("POST", "/u/{token}") in member_routes and ("POST", "/centre") in member_routes
    undeclared = [(m, p) for m, p, a in routes(site) if a is None and (m, p) not in PUBLIC]
    declared_public = [(m, p) for m, p, a in routes(site) if a is not None and (m, p) in PUBLIC]

    assert undeclared == []
    assert declared_public == []


@pytest.mark.slow
def test_the_access_matrix(site: Site, tmp_path: Path) -> None:
    objects = partner_b_objects(site, tmp_path)
    wrong: list[str] = []
    for method, template, action in routes(site):
        if action is None:
            continue
        path = template
        if "/segments/{name}" in path:  # the staff segment pages name a file in segments/
            path = path.replace("{name}", "baby-households")
        for param, value in objects.values.items():
            path = path.replace(f"{{{param}}}", value)
        assert "{" not in path, f"add a value for the parameter in {template}"
        for user in [None, *USERS]:
            response = call(site, user, method, path)
            want = expected(action, user, template)
            got = response.status_code
            ok = got in want if want is not None else got not in {401, 403, 404}
            if not ok:
                wrong.append(f"{method} {template} as {user or 'anonymous'}: {got}, want {want}")
            if user is not None and USERS[user][1] not in (None, PARTNER_B):
                # The error may echo the path the caller sent; anything else is a leak.
                body = response.text.replace(path, "")
                leaked = [m for m in objects.markers if m in body]
                leaked += [m for m in objects.markers if m in str(response.headers)]
                if leaked:
                    wrong.append(f"{method} {template} as {user}: shows {leaked}")
    assert wrong == []
