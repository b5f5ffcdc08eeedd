"""Invariant 1 end to end: a scripted partner session finds no member data anywhere.

Canary members receive partner A's campaign; then partner A's admin walks every
partner-reachable page and API route (with A's own ids, every preview file, and a
few errors), including every report page, API document and CSV of the canaries'
campaign, and no name, address, e-mail, phone, card number or member id of a canary
appears in any body or header.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.accounts.roles import PARTNER_ROLES, PERMISSIONS
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from tests.web.access_routes import api_routes, route_action
from tests.web.canary import seed_and_run
from tests.web.conftest import PARTNER_A, Site, no_member_data, set_min_partner_audience


@pytest.mark.slow
def test_a_partner_session_never_receives_member_data(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_min_partner_audience(site, monkeypatch, 5)
    canaries = seed_and_run(site, tmp_path)
    with session_scope(site.engine) as session:
        version = session.scalar(
            select(CreativeVersion).where(CreativeVersion.public_id == site.versions[PARTNER_A])
        )
        assert version is not None
        values = {
            "creative_id": version.creative.public_id,
            "version_id": version.public_id,
            "campaign_id": canaries.campaign_public_id,
        }
    page, api = site.client("a_admin"), site.api("a_admin")
    seen: list[str] = []
    leaks: list[str] = []
    preview_names: set[str] = set()
    for route_path, methods, route in api_routes(site.app):
        if "GET" not in methods:
            continue
        action = route_action(route)
        if action is None or not PERMISSIONS[action] & PARTNER_ROLES:
            continue
        paths = [route_path]
        if "{name}" in route_path:
            paths = [route_path.replace("{name}", n) for n in ("letter-fi-p1.png", "x.png")]
        for template in paths:
            path = template
            for param, value in values.items():
                path = path.replace(f"{{{param}}}", value)
            client = api if path.startswith("/api/") else page
            for url in (path, path + "?lang=sv", path.replace(values["version_id"], "cv_nope")):
                response = client.get(url)
                seen.append(f"{url} {response.status_code}")
                found = no_member_data(response.content, canaries.secrets)
                found += no_member_data(str(response.headers), canaries.secrets)
                if found:
                    leaks.append(f"{url}: {found}")
                if url.endswith(f"/versions/{values['version_id']}") and path.startswith("/api"):
                    for language in response.json()["previews"].values():
                        for link in language.values():
                            links = link if isinstance(link, list) else [link]
                            preview_names.update(str(x) for x in links)
    for link in sorted(preview_names):
        response = api.get(link)
        seen.append(f"{link} {response.status_code}")
        found = no_member_data(response.content, canaries.secrets)
        if found:
            leaks.append(f"{link}: {found}")
    assert len(seen) > 20 and any("/preview/" in s and s.endswith("200") for s in seen)
    # Every report surface was read: the page, the API document, both CSVs, the budget.
    campaign = values["campaign_id"]
    for surface in (
        f"/partner/campaigns/{campaign} 200",
        f"/partner/campaigns/{campaign}/report.csv 200",
        f"/api/v1/partner/campaigns/{campaign}/reports 200",
        f"/api/v1/partner/campaigns/{campaign}/reports.csv 200",
        "/partner/budget 200",
        "/api/v1/partner/budget 200",
    ):
        assert surface in seen, surface
    assert leaks == []
