"""What the partner portal and API show of a campaign's reports, and as CSV.

Every number comes from :func:`dispatch.reports.services.release`, which is the
only way to a partner-facing count: a refused report is shown with its reason,
which names no count either. Opening a campaign's page (or its API resource)
releases the reports its state allows, or returns the ones already released today.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign
from dispatch.config import Settings
from dispatch.reports import ledger
from dispatch.reports import services as reports
from dispatch.reports.disclosure import Controls
from dispatch.web.access import Principal

Document = dict[str, Any]


class CampaignReports(BaseModel):
    """The reports of one campaign, each released or refused with the reason."""

    campaign: str
    estimate: Document | None = Field(
        default=None, description="Before the snapshot: the audience estimate"
    )
    report: Document | None = Field(default=None, description="After hand-off: what it reached")
    lift: Document | None = Field(default=None, description="After hand-off: contacted vs held out")
    budget: Document


class BudgetDoc(BaseModel):
    budget: Document
    releases: list[Document]


def controls(settings: Settings) -> Controls:
    return Controls.from_settings(settings)


def campaign_reports(
    session: Session, settings: Settings, principal: Principal, campaign: Campaign
) -> CampaignReports:
    """Release (or fetch) every report the campaign's state allows."""
    docs = reports.campaign_reports(
        session, campaign, controls=controls(settings), actor=principal.name
    )
    return CampaignReports(**docs)


def budget_doc(session: Session, settings: Settings, partner_id: int) -> BudgetDoc:
    """The partner's budget this period and its latest releases (what each spent)."""
    spent = ledger.budget(session, partner_id, controls(settings))
    releases = [ledger.release_doc(r) for r in ledger.releases(session, partner_id)]
    return BudgetDoc(budget=spent.as_json(), releases=releases)


# --- CSV -----------------------------------------------------------------------------

CSV_COLUMNS = ("report", "measure", "category", "value", "shown_as")


def _rows(docs: CampaignReports) -> Iterator[tuple[object, ...]]:
    estimate, report, lift = docs.estimate, docs.report, docs.lift
    if estimate and estimate.get("available"):
        audience = estimate["audience"]
        yield ("estimate", "audience", "", audience["value"], audience["text"])
        yield ("estimate", "error95", "", estimate["error95"], "")
    if report and report.get("available"):
        for total in report["totals"]:
            yield ("report", total["name"], "", total["value"], total["text"])
        for part in report["breakdowns"]:
            for cell in part["cells"]:
                yield ("report", part["name"], cell["label"], cell["value"], cell["text"])
        yield ("report", "error95", "", report["error95"], "")
    if lift and lift.get("available"):
        for group, counts in lift["groups"].items():
            for measure, cell in counts.items():
                yield ("lift", measure, group, cell["value"], cell["text"])
        for measure, value in (lift.get("lift") or {}).items():
            if isinstance(value, list):
                yield ("lift", f"{measure}_low", "", value[0], "")
                yield ("lift", f"{measure}_high", "", value[1], "")
            else:
                yield ("lift", measure, "", value, "")
        yield ("lift", "error95", "", lift["error95"], "")
    for name in ("estimate", "report", "lift"):
        doc = getattr(docs, name)
        if doc and not doc.get("available"):
            yield (name, "refused", "", "", doc["reason"])


def as_csv(docs: CampaignReports) -> str:
    """The released numbers as CSV: one row per number, refusals with their reason."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(docs):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def csv_response(docs: CampaignReports, campaign: Campaign) -> Response:
    """The reports as a CSV download named after the campaign."""
    return Response(
        as_csv(docs),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{campaign.public_id}.csv"'},
    )
