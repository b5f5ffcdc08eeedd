"""Staff pages that read records: segment files, one member (audited), the audit log.

Part of the ``/staff`` router (:mod:`.staff`). A member is looked up by card number
in a POST body and shown in the POST's answer, so that no member data is ever in a
URL, a log line or a browser's history.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dispatch.accounts.roles import Action
from dispatch.errors import DispatchError
from dispatch.privacy.export import dumps
from dispatch.segmenting import services as segments
from dispatch.web import staff_charts, staff_ops
from dispatch.web.access import DB, Principal, require
from dispatch.web.lists import Paging, paginate
from dispatch.web.pages import render
from dispatch.web.problems import Problem, from_exception
from dispatch.web.staff_models import count_doc, segment_item

router = APIRouter()


# --- segments ------------------------------------------------------------------------


def segment_list(request: Request, session: Session) -> list[Any]:
    """Every segment file of the folder with its check result (shared with the API)."""
    files = staff_ops.segment_files(staff_ops.segments_dir(request))
    return [
        segment_item(name, path.name, segments.check(session, path)) for name, path in files.items()
    ]


def segment_view(request: Request, session: Session, name: str) -> dict[str, Any]:
    """One segment's text, problems and (when it has none) its policy waterfall."""
    path = staff_ops.segment_file(staff_ops.segments_dir(request), name)
    problems = segments.check(session, path)
    count = None
    if not problems:
        try:
            count = segments.count(session, segments.load(path))
        except DispatchError as exc:  # e.g. the rollups were rebuilt while counting
            problems = [exc]
    return {
        "item": segment_item(name, path.name, problems),
        "source": path.read_text(encoding="utf-8", errors="replace"),
        "count": count,
    }


@router.get("/segments", response_class=HTMLResponse)
def segment_index(
    request: Request,
    session: DB,
    _: Annotated[Principal, Depends(require(Action.SEGMENT_VIEW))],
) -> Response:
    folder = staff_ops.segments_dir(request)
    items = segment_list(request, session)
    return render(request, "staff_segments.html", {"items": items, "folder": str(folder)})


@router.get("/segments/{name}", response_class=HTMLResponse)
def segment_page(
    request: Request,
    session: DB,
    name: str,
    _: Annotated[Principal, Depends(require(Action.SEGMENT_VIEW))],
) -> Response:
    view = segment_view(request, session, name)
    count = view["count"]
    chart = staff_charts.waterfall(count) if count else None
    return render(
        request,
        "staff_segment.html",
        {**view, "chart": chart, "count_doc": count_doc(count) if count else None},
    )


# --- one member ----------------------------------------------------------------------


@router.get("/members", response_class=HTMLResponse)
def member_form(
    request: Request, _: Annotated[Principal, Depends(require(Action.MEMBER_LOOKUP))]
) -> Response:
    return render(request, "staff_members.html", {})


@router.post("/members", response_class=HTMLResponse)
def member_lookup(
    request: Request,
    session: DB,
    principal: Annotated[Principal, Depends(require(Action.MEMBER_LOOKUP))],
    card_number: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        document = staff_ops.lookup_member(
            session, principal, request.app.state.settings.secret_key, card_number, reason
        )
    except (DispatchError, Problem) as exc:
        problem = from_exception(exc)
        # The card number is not echoed back: the form starts empty again.
        context: dict[str, Any] = {"error": problem.detail, "reason": reason[:200]}
        return render(request, "staff_members.html", context, status_code=problem.status)
    sections = {k: v for k, v in document.items() if isinstance(v, (list, dict))}
    facts = {k: v for k, v in document.items() if k not in sections}
    tables = {k: as_table(v) for k, v in sections.items() if isinstance(v, list)}
    context = {
        "document": document,
        "facts": facts,
        "sections": sections,
        "tables": tables,
        "dumps": dumps,
    }
    return render(request, "staff_member.html", context)


def _cell(value: Any) -> str:
    """One value of the export as a table cell: nested records as ``key: value`` pairs."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def as_table(rows: list[Any]) -> dict[str, list[Any]]:
    """A list section of the export as columns and rows for customer service to read.

    The columns are the keys of the records in their first order of appearance; the
    export itself (JSON) stays on the page below, as the CLI prints it.
    """
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ["value"]:
            if key not in columns:
                columns.append(key)
    body = [
        [_cell(row.get(c)) for c in columns] if isinstance(row, dict) else [_cell(row)]
        for row in rows
    ]
    return {"columns": columns, "rows": body}


# --- the audit log -------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: DB,
    paging: Paging,
    _: Annotated[Principal, Depends(require(Action.AUDIT_VIEW))],
    action: str | None = None,
) -> Response:
    actions = staff_ops.audit_actions(session)
    action = action if action in actions else None
    page = paginate(session, staff_ops.audit_log(action), paging)
    context = {"page": page, "actions": actions, "action": action}
    return render(request, "staff_audit.html", context)
