"""Partners, submission, versions and decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.creatives import services
from dispatch.creatives.archive import content_hash, normalised_zip
from dispatch.creatives.models import (
    Creative,
    CreativeStatus,
    CreativeVersion,
    ImmutableVersionError,
    Partner,
)
from dispatch.creatives.problems import BundleRejected
from dispatch.creatives.services import ContentChanged
from dispatch.errors import InputError, OperationError
from tests.creatives.builders import valid_files, write_dir


@pytest.fixture
def partner(session: Session) -> Partner:
    return services.create_partner(session, "Nordic Air")


@pytest.fixture
def bundle_path(tmp_path: Path) -> Path:
    return write_dir(tmp_path / "bundle", valid_files())


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_partner_names_are_unique(session: Session, partner: Partner) -> None:
    with pytest.raises(InputError, match="exists already"):
        services.create_partner(session, " Nordic Air ")
    assert [p.name for p in services.list_partners(session)] == ["Nordic Air"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "evil\nname"])
def test_bad_partner_names_are_refused(session: Session, name: str) -> None:
    with pytest.raises(InputError):
        services.create_partner(session, name)


def test_submit_stores_version_one_then_resubmission_is_version_two(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    first = services.submit(session, "Nordic Air", bundle_path)
    assert (first.version, first.status) == (1, CreativeStatus.SUBMITTED)
    assert first.content_hash == content_hash(valid_files())
    assert first.manifest["name"] == "spring-offer"
    assert first.bundle == normalised_zip(valid_files())

    (bundle_path / "email.txt.j2").write_bytes(b"{{ campaign.texts.greeting }}!\n")
    second = services.submit(session, "Nordic Air", bundle_path)
    assert (second.version, second.creative_id) == (2, first.creative_id)
    assert second.content_hash != first.content_hash
    assert count(session, Creative) == 1
    assert [v.version for v in services.list_versions(session, "Nordic Air")] == [1, 2]


def test_same_creative_name_of_another_partner_is_another_creative(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    services.create_partner(session, "Coop")
    a = services.submit(session, "Nordic Air", bundle_path)
    b = services.submit(session, "Coop", bundle_path)
    assert a.creative_id != b.creative_id
    assert (a.version, b.version) == (1, 1)
    assert [v.id for v in services.list_versions(session, "Coop")] == [b.id]


def test_rejected_bundle_stores_nothing(session: Session, partner: Partner, tmp_path: Path) -> None:
    files = {**valid_files(), "letter.html.j2": b"<script>{{ ''.__class__ }}</script>"}
    with pytest.raises(BundleRejected):
        services.submit(session, "Nordic Air", write_dir(tmp_path / "bad", files))
    assert count(session, Creative) == 0
    assert count(session, CreativeVersion) == 0


def test_unknown_partner_is_bad_input(session: Session, bundle_path: Path) -> None:
    with pytest.raises(InputError, match="no partner named"):
        services.submit(session, "Nobody", bundle_path)


def test_approve_records_who_and_when(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    approved = services.approve(session, version.id, "staff.anna")
    assert approved.status == CreativeStatus.APPROVED
    assert approved.decided_by == "staff.anna"
    assert approved.decided_at is not None
    assert approved.reason is None


def test_reject_needs_a_reason_and_records_it(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    with pytest.raises(InputError, match="reason"):
        services.reject(session, version.id, "staff.anna", "  ")
    rejected = services.reject(session, version.id, "staff.anna", "Logo too small")
    assert (rejected.status, rejected.reason) == (CreativeStatus.REJECTED, "Logo too small")


@pytest.mark.parametrize("first", ["approve", "reject"])
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_a_decision_is_final(
    session: Session, partner: Partner, bundle_path: Path, first: str, second: str
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)

    def decide(how: str) -> CreativeVersion:
        if how == "approve":
            return services.approve(session, version.id, "staff.anna")
        return services.reject(session, version.id, "staff.anna", "no")

    decided = decide(first)
    with pytest.raises(OperationError, match="only a submitted version"):
        decide(second)
    session.refresh(decided)
    assert decided.status == (
        CreativeStatus.APPROVED if first == "approve" else CreativeStatus.REJECTED
    )


def test_decision_needs_an_actor(session: Session, partner: Partner, bundle_path: Path) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    with pytest.raises(InputError, match="--as"):
        services.approve(session, version.id, " ")


def test_unknown_version_is_bad_input(session: Session) -> None:
    with pytest.raises(InputError, match="no creative version 999"):
        services.get_version(session, 999)


def test_database_refuses_a_decision_without_a_decider(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            update(CreativeVersion)
            .where(CreativeVersion.id == version.id)
            .values(status=CreativeStatus.APPROVED)
        )
    session.rollback()


def test_stored_content_cannot_be_changed_through_the_orm(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    services.approve(session, version.id, "staff.anna")
    version.bundle = normalised_zip({**valid_files(), "email.txt.j2": b"changed"})
    with pytest.raises(ImmutableVersionError, match="bundle cannot change"):
        session.flush()
    session.rollback()


def test_tampered_bytes_are_caught_by_verify_content(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    services.approve(session, version.id, "staff.anna")
    services.verify_content(version)  # intact
    assert services.load_version_bundle(version).content_hash == version.content_hash
    session.commit()

    tampered = normalised_zip({**valid_files(), "email.txt.j2": b"{{ recipient.first_name }}!"})
    session.execute(
        text("UPDATE creative_versions SET bundle = :b WHERE id = :id"),
        {"b": tampered, "id": version.id},
    )
    session.commit()
    session.expire_all()
    stored = services.get_version(session, version.id)
    with pytest.raises(ContentChanged, match="does not match its content hash"):
        services.verify_content(stored)
    with pytest.raises(ContentChanged):
        services.load_version_bundle(stored)


def test_corrupt_stored_bytes_are_caught_too(
    session: Session, partner: Partner, bundle_path: Path
) -> None:
    version = services.submit(session, "Nordic Air", bundle_path)
    session.commit()
    session.execute(
        text("UPDATE creative_versions SET bundle = :b WHERE id = :id"),
        {"b": b"garbage", "id": version.id},
    )
    session.commit()
    session.expire_all()
    stored = services.get_version(session, version.id)
    with pytest.raises(ContentChanged):
        services.verify_content(stored)
    with pytest.raises(ContentChanged):
        services.approve(session, stored.id, "staff.anna")  # approval verifies first
