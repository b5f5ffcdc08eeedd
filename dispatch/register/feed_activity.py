"""Feed files, part two: what members did and decided.

Purchases, bonus purchases at partners, restaurant visits and web interests are
upserted by their keys; consents
go through :func:`dispatch.register.consent.record`, one ledger entry per row, so the
current state follows the ledger; suppressions are keyed by the card's keyed hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import and_, insert, select
from sqlalchemy.orm import Session

from dispatch import suggest
from dispatch.db.types import Channel, Decision, Purpose, SuppressionReason, utcnow
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
from dispatch.register.hashing import subject_hash
from dispatch.register.models import (
    BonusPurchase,
    ConsentEvent,
    ConsentState,
    ProductGroup,
    PurchaseSummary,
    RestaurantVisit,
    Store,
    Suppression,
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
        cells = f.Cells(row)
        card = cells(f.card_number, "card_number")
        group = cells(f.code, "product_group")
        if group is not None and group not in self.groups:
            # Said as a segment says it: a typo here is a typo there.
            cells.bad("product_group", suggest.unknown("product group", group, self.groups))
        values = {
            "card_number": card,
            "product_group_id": self.groups.get(group or ""),
            "month": cells(f.month, "month"),
            "amount": cells(f.amount, "amount"),
            "count": cells(f.integer, "count", 0, 1_000_000),
        }
        cells.done()
        return values

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


class BonusPurchasesFile(MemberRows):
    """Purchases at partners that grant loyalty bonus, as the partners report them.

    One row per member, partner and day (the day's total); the lift report counts
    them as responses to the partner's campaigns (docs/reports.md).
    """

    name = "bonus_purchases.csv"
    required = ("card_number", "partner", "date", "amount")

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        card = cells(f.card_number, "card_number")
        partner = cells(f.code, "partner")
        day = cells(f.date, "date")
        if day is not None and day > utcnow().date() + dt.timedelta(days=1):
            cells.bad("date", "is in the future")
        values = {
            "card_number": card,
            "partner_code": partner,
            "purchased_on": day,
            "amount": cells(f.amount, "amount"),
        }
        cells.done()
        return values

    def load(self, session: Session, rows: list[Parsed]) -> Outcome:
        out = Outcome()
        kept = self.resolve(session, rows, out)
        key = ("member_id", "partner_code", "purchased_on")
        latest = last_per_key(kept, lambda r: tuple(r[k] for k in key))
        values = [{k: r[k] for k in (*key, "amount")} for _, r in latest]
        upsert(session, table_of(BonusPurchase), values, key)
        out.loaded = len(kept)
        return out


class RestaurantVisitsFile(MemberRows):
    name = "restaurant_visits.csv"
    required = ("card_number", "store_id", "month", "visits")

    def begin(self, session: Session) -> None:
        self.kinds = {id_: kind for id_, kind in session.execute(select(Store.id, Store.kind))}

    def parse(self, row: dict[str, str]) -> dict[str, Any]:
        cells = f.Cells(row)
        card = cells(f.card_number, "card_number")
        store = cells(f.integer, "store_id", 1, 2**31 - 1)
        kind = self.kinds.get(store) if store is not None else "?"
        if kind is None:
            cells.bad("store_id", "no such store")
        elif store is not None and kind != "restaurant":
            cells.bad("store_id", f"store {store} is not a restaurant (it is {kind})")
        values = {
            "card_number": card,
            "store_id": store,
            "month": cells(f.month, "month"),
            "visits": cells(f.integer, "visits", 1, 10_000),
        }
        cells.done()
        return values

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
        cells = f.Cells(row)
        values = {
            "card_number": cells(f.card_number, "card_number"),
            "category": cells(f.choice, "category", catalog.WEB_CATEGORIES),
            "last_seen": cells(f.date, "last_seen"),
        }
        cells.done()
        return values

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
        cells = f.Cells(row)
        card = cells(f.card_number, "card_number")
        purpose = cells(f.choice, "purpose", [p.value for p in Purpose])
        channel = cells(f.choice, "channel", [c.value for c in Channel])
        decision = cells(f.choice, "decision", [d.value for d in Decision])
        recorded_at = cells(f.timestamp, "recorded_at")
        if recorded_at is not None and recorded_at > utcnow() + dt.timedelta(minutes=5):
            cells.bad("recorded_at", "is in the future")
        source = cells(f.text, "source", 40)
        cells.done()  # from here on, every value is given
        return {
            "card_number": card,
            "purpose": Purpose(cast(str, purpose)),
            "channel": Channel(cast(str, channel)),
            "decision": Decision(cast(str, decision)),
            "recorded_at": recorded_at,
            "source": source,
        }

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
        cells = f.Cells(row)
        card = cells(f.card_number, "card_number")
        reason = cells(f.choice, "reason", self._REASONS)
        cells.done()
        return {"subject_hash": subject_hash(self.secret_key, card or ""), "reason": reason}

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
