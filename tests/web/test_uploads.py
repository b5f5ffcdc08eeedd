"""Hostile and broken uploads: a clear error, and nothing stored."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from dispatch.creatives.archive import MAX_ARCHIVE_BYTES
from dispatch.creatives.models import CreativeVersion
from dispatch.db.engine import session_scope
from dispatch.register.models import AuditEntry
from tests.creatives.builders import valid_files, zip_bytes
from tests.web.conftest import Site, problem


def _counts(site: Site) -> tuple[int, int]:
    with session_scope(site.engine) as session:
        versions = session.scalar(select(func.count()).select_from(CreativeVersion)) or 0
        uploads = (
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "creative_upload")
            )
            or 0
        )
    return int(versions), int(uploads)


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in valid_files().items():
            archive.writestr(name, data)
        archive.writestr("assets/huge.css", b" " * (4 * 1024 * 1024))
    return buffer.getvalue()


CASES = {
    "not a zip": (b"GIF89a this is a picture", "application/zip", 422, "zip"),
    "a truncated zip": (zip_bytes(valid_files())[:-40], "application/zip", 422, "zip"),
    "a zip bomb": (_bomb(), "application/zip", 422, "ratio"),
    "the wrong content type": (zip_bytes(valid_files()), "text/plain", 415, ".zip"),
    "an empty file": (b"", "application/zip", 422, "empty"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_upload_is_refused_clearly_and_stores_nothing(site: Site, case: str) -> None:
    data, content_type, status, says = CASES[case]
    before = _counts(site)

    response = site.api("a_editor").post(
        "/api/v1/creatives", files={"bundle": ("b.zip", data, content_type)}
    )

    assert response.status_code == status, response.text
    assert says in response.text
    assert "Traceback" not in response.text
    assert problem(response)["status"] == status
    assert _counts(site) == before


def test_an_oversize_upload_is_refused_before_it_is_read(site: Site) -> None:
    before = _counts(site)
    response = site.api("a_editor").post(
        "/api/v1/creatives",
        files={"bundle": ("b.zip", b"0" * (MAX_ARCHIVE_BYTES + 100 * 1024), "application/zip")},
    )

    assert response.status_code == 413
    assert "MB" in problem(response)["detail"]
    assert _counts(site) == before


def test_a_request_that_is_not_multipart_is_refused(site: Site) -> None:
    response = site.api("a_editor").post("/api/v1/creatives", json={"bundle": "x"})

    assert response.status_code == 422
    assert problem(response)["errors"]


def test_a_page_upload_without_a_csrf_token_is_refused(site: Site) -> None:
    before = _counts(site)
    editor = site.client("a_editor")

    response = editor.post(
        "/partner/creatives/upload",
        files={"bundle": ("b.zip", zip_bytes(valid_files()), "application/zip")},
    )

    assert response.status_code == 403
    assert _counts(site) == before


def test_an_expired_session_cannot_upload(site: Site) -> None:
    from dispatch.accounts.models import WebSession
    from dispatch.db.types import utcnow

    editor = site.client("a_editor")
    with session_scope(site.engine) as session:
        for row in session.scalars(select(WebSession)):
            row.expires_at = utcnow()
    response = editor.post(
        "/partner/creatives/upload",
        data={"csrf": editor.csrf},  # type: ignore[attr-defined]
        files={"bundle": ("b.zip", zip_bytes(valid_files()), "application/zip")},
        follow_redirects=False,
    )

    assert response.status_code == 401
    assert "Sign in" in response.text
