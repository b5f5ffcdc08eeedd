"""Feed files, part two: what members did and decided.

Purchases, restaurant visits and web interests are upserted by their keys; consents
go through :func:`dispatch.register.consent.record`, one ledger entry per row, so the
current state follows the ledger; suppressions are keyed by the card's keyed hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.orm import Session

from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
from dispatch.privacy.hashing import subject_hash
from dispatch.privacy.models import Suppression
from dispatch.register import activity, catalog, consent, flags, rollups
from dispatch.register import feed_fields as f
from dispatch.register.feed_fields import Bad
from dispatch.register.feed_files import (
    FeedFile,
    MemberRows,
    Outcome,
    Parsed,
    chunks,
    last_per_key,
    table_of,
    upsert,
)
from dispatch.register.models import (
    ConsentEvent,
    ConsentState,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    WebInterest,
)


class PurchasesFile(MemberRows):
    name = "purchases.csv"
    required = ("card_number", "product_group", "month", "amount", "count")

    def begin(self, session: Session) -> None:
        self.groups = {
            code: id_ for code, id_ in session.execute(select(ProductGroup.code, ProductGroup.id))
        }

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        group = f.code(row, "product_group")
        if group not in self.groups:
            raise Bad("product_group", f"unknown product group {group!r}")
        return {
            "card_number": f.card_number(row),
            "product_group_id": self.groups[group],
            "month": f.month(row),
            "amount": f.amount(row, "amount"),
            "count": f.integer(row, "count", 0, 1_000_000),
        }

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        kept = self.resolve(session, rows, out)
        key = ("member_id", "product_group_id", "month")
        latest = last_per_key(kept, lambda r: tuple(r[k] for k in key))
        values = [{k: r[k] for k in (*key, "amount", "count")} for _, r in latest]
        upsert(session, table_of(PurchaseSummary), values, key)
        rollups.after_purchases(
            session, [v["member_id"] for v in values], [v["month"] for v in values]
        )
        out.loaded = len(kept)
        return out


class RestaurantVisitsFile(MemberRows):
    name = "restaurant_visits.csv"
    required = ("card_number", "store_id", "month", "visits")

    def begin(self, session: Session) -> None:
        self.kinds = {id_: kind for id_, kind in session.execute(select(Store.id, Store.kind))}

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        store = f.integer(row, "store_id", 1, 2**31 - 1)
        kind = self.kinds.get(store)
        if kind is None:
            raise Bad("store_id", "no such store")
        if kind != "restaurant":
            raise Bad("store_id", f"store {store} is not a restaurant (it is {kind})")
        return {
            "card_number": f.card_number(row),
            "store_id": store,
            "month": f.month(row),
            "visits": f.integer(row, "visits", 1, 10_000),
        }

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        kept = self.resolve(session, rows, out)
        key = ("member_id", "store_id", "month")
        latest = last_per_key(kept, lambda r: tuple(r[k] for k in key))
        values = [{k: r[k] for k in (*key, "visits")} for _, r in latest]
        upsert(session, table_of(RestaurantVisit), values, key)
        activity.refresh(session, [v["member_id"] for v in values])
        out.loaded = len(kept)
        return out


class WebInterestsFile(MemberRows):
    name = "web_interests.csv"
    required = ("card_number", "category", "last_seen")

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        return {
            "card_number": f.card_number(row),
            "category": f.choice(row, "category", catalog.WEB_CATEGORIES),
            "last_seen": f.date(row, "last_seen"),
        }

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        kept = self.resolve(session, rows, out)
        key = ("member_id", "category")
        latest = last_per_key(kept, lambda r: tuple(r[k] for k in key))
        values = [{k: r[k] for k in (*key, "last_seen")} for _, r in latest]
        upsert(session, table_of(WebInterest), values, key)
        activity.refresh(session, [v["member_id"] for v in values])
        out.loaded = len(kept)
        return out


class ConsentsFile(MemberRows):
    """Each row is one ledger entry, appended by :func:`consent.record`, in file order."""

    name = "consents.csv"
    required = ("card_number", "purpose", "channel", "decision", "recorded_at", "source")

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "card_number": f.card_number(row),
            "purpose": Purpose(f.choice(row, "purpose", [p.value for p in Purpose])),
            "channel": Channel(f.choice(row, "channel", [c.value for c in Channel])),
            "decision": Decision(f.choice(row, "decision", [d.value for d in Decision])),
            "recorded_at": f.timestamp(row, "recorded_at"),
            "source": f.text(row, "source", 40),
        }
        if values["recorded_at"] > utcnow() + dt.timedelta(minutes=5):
            raise Bad("recorded_at", "is in the future")
        return values

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        for line, row in self.resolve(session, rows, out):
            try:
                if self._already_recorded(session, row):
                    out.unchanged += 1
                    continue
                consent.record(
                    session,
                    row["member_id"],
                    row["purpose"],
                    row["channel"],
                    row["decision"],
                    source=row["source"],
                    actor=None,
                    at=row["recorded_at"],
                )
            except consent.ConsentError as exc:
                out.rejected.append((line, Bad("decision", str(exc))))
            except Bad as bad:
                out.rejected.append((line, bad))
            else:
                out.loaded += 1
        return out

    def _already_recorded(self, session: Session, row: dict[str, Any]) -> bool:
        """True for a re-imported entry; a Bad for one older than the current decision."""
        key = (row["member_id"], row["purpose"], row["channel"])
        state = session.get(ConsentState, key)
        if state is None:
            return False
        if state.updated_at > row["recorded_at"]:
            same = session.scalar(
                select(ConsentEvent.id).where(
                    and_(
                        ConsentEvent.member_id == row["member_id"],
                        ConsentEvent.purpose == row["purpose"],
                        ConsentEvent.channel == row["channel"],
                        ConsentEvent.decision == row["decision"],
                        ConsentEvent.recorded_at == row["recorded_at"],
                        ConsentEvent.source == row["source"],
                    )
                )
            )
            if same is not None:
                return True
            raise Bad(
                "recorded_at",
                f"older than the member's current {row['purpose']}/{row['channel']} decision "
                f"({state.updated_at.isoformat()}); the ledger only moves forward",
            )
        event = session.get(ConsentEvent, state.event_id)
        return event is not None and (
            event.recorded_at == row["recorded_at"]
            and event.decision == row["decision"]
            and event.source == row["source"]
        )


class SuppressionsFile(FeedFile):
    """Suppressions are keyed by the card's hash: the card need not belong to a member yet."""

    name = "suppressions.csv"
    required = ("card_number", "reason")
    _REASONS = (
        SuppressionReason.OPTOUT_REGISTER.value,
        SuppressionReason.DECEASED.value,
        SuppressionReason.RETURNED_MAIL.value,
    )

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        card = f.card_number(row)
        return {
            "subject_hash": subject_hash(self.secret_key, card),
            "reason": f.choice(row, "reason", self._REASONS),
        }

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        wanted = {(r["subject_hash"], r["reason"]) for _, r in rows}
        present: set[tuple[str, str]] = set()
        for chunk in chunks(h for h, _ in wanted):
            found = session.execute(
                select(Suppression.subject_hash, Suppression.reason).where(
                    Suppression.subject_hash.in_(chunk)
                )
            )
            present.update((h, reason) for h, reason in found)
        new = sorted(wanted - present)
        now = utcnow()
        values = [
            {"subject_hash": h, "reason": reason, "created_at": now, "source": "feed"}
            for h, reason in new
        ]
        if values:
            session.execute(insert(table_of(Suppression)), values)
            flags.refresh_subjects(session, (h for h, _ in new))
        out.loaded = len(new)
        out.unchanged = len(rows) - len(new)
        return out
