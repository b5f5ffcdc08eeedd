"""What the synthetic members do: purchases, restaurant visits, browsing, consents.

The patterns are chosen so that the example segments find real audiences: baby
families buy baby food and diapers most months, pensioners fill up at ABC, about 8%
of members browsed bicycles in the last 90 days, Helsinki members eat out in Helsinki.
Purchase summaries are kept to about twenty rows per member so that the generator
scales to the full register of 3.7 million.

Consents are generated as the ledger entries :func:`dispatch.register.consent.record`
would append, and the state rows it would leave behind: the state of each (purpose,
channel) is its latest entry, and umbrella scopes only ever hold objections.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from dispatch.db.types import Channel, Decision, HouseholdKind, Purpose, SuppressionReason
from dispatch.register import catalog
from dispatch.register.population import STORES, Person

_G = catalog.group_ids()

PURCHASE_COLUMNS = ("member_id", "product_group_id", "month", "amount", "count")
VISIT_COLUMNS = ("member_id", "store_id", "month", "visits")
WEB_COLUMNS = ("member_id", "category", "last_seen")
BONUS_COLUMNS = ("member_id", "partner_code", "purchased_on", "amount")
EVENT_COLUMNS = (
    "id",
    "member_id",
    "purpose",
    "channel",
    "decision",
    "recorded_at",
    "source",
    "actor",
)
STATE_COLUMNS = ("member_id", "purpose", "channel", "decision", "updated_at", "event_id")
SUPPRESSION_COLUMNS = ("id", "subject_hash", "reason", "created_at", "source")

MONTHS = 13

# (group code, chance a month, mean amount in euros a month)
Habit = tuple[int, float, float]

_CORE_GROCERIES = ("dairy", "bread", "meat", "fruit_vegetables", "coffee_tea", "cheese")
_OTHER_GROCERIES = (
    *(c for c in catalog.children("groceries") if c not in _CORE_GROCERIES),
    "beer",
    "cider_long_drinks",
)
_OCCASIONAL = (
    *catalog.children("personal_care"),
    *catalog.children("household_goods"),
    *catalog.children("home"),
    *catalog.children("electronics"),
    *catalog.children("clothing"),
    "outdoor", "fitness", "fishing", "pet_food", "pet_care", "car_wash", "motor_oil",
    "books", "magazines", "board_games", "plants", "garden_tools", "grills",
    "christmas", "easter", "winter_sports",
)  # fmt: skip
_KIND_HABITS: dict[str, tuple[tuple[str, float, float, float], ...]] = {
    # (group, share of such members who have the habit, chance a month, mean amount)
    HouseholdKind.BABY_FAMILY: (
        ("baby_food", 0.95, 0.85, 45.0),
        ("diapers", 0.95, 0.85, 55.0),
        ("baby_care", 0.9, 0.55, 25.0),
        ("infant_formula", 0.5, 0.6, 40.0),
        ("baby_clothes", 0.4, 0.2, 35.0),
    ),
    HouseholdKind.FAMILY: (
        ("childrens_clothing", 0.5, 0.2, 50.0),
        ("breakfast_cereals", 0.5, 0.35, 12.0),
        ("outdoor_toys", 0.3, 0.12, 25.0),
    ),
    HouseholdKind.SINGLE: (("ready_meals", 0.5, 0.4, 30.0),),
    HouseholdKind.COUPLE: (("pregnancy_tests", 0.04, 0.15, 15.0),),
    HouseholdKind.PENSIONER: (
        ("petrol", 0.45, 0.6, 70.0),
        ("diesel", 0.2, 0.6, 75.0),
        ("incontinence", 0.08, 0.45, 30.0),
        ("diabetic_products", 0.07, 0.5, 25.0),
    ),
}
_EVERYONE: tuple[tuple[str, float, float, float], ...] = (
    ("medicines", 0.2, 0.2, 18.0),
    ("vitamins", 0.1, 0.25, 20.0),
    ("gluten_free_diet", 0.02, 0.6, 25.0),
    ("first_aid", 0.05, 0.1, 10.0),
)
# Calendar months (1-12) in which a group sells more, and by how much.
_SEASON: dict[int, dict[int, float]] = {
    _G["bicycles"]: {3: 2.0, 4: 3.0, 5: 3.0, 6: 2.0, 11: 0.2, 12: 0.2, 1: 0.1, 2: 0.3},
    _G["cycling_gear"]: {4: 2.5, 5: 2.5, 6: 1.5, 12: 0.3, 1: 0.2},
    _G["grills"]: {5: 3.0, 6: 3.0, 7: 2.0, 11: 0.1, 12: 0.1, 1: 0.1},
    _G["plants"]: {4: 2.0, 5: 3.0, 6: 2.0, 11: 0.2, 12: 0.3, 1: 0.1},
    _G["christmas"]: {11: 3.0, 12: 6.0, 1: 0.1, 2: 0.0, 6: 0.0, 7: 0.0, 8: 0.0},
    _G["easter"]: {3: 4.0, 4: 4.0, 1: 0.0, 7: 0.0, 9: 0.0, 10: 0.0, 11: 0.0, 12: 0.0},
    _G["winter_sports"]: {12: 3.0, 1: 3.0, 2: 3.0, 5: 0.0, 6: 0.0, 7: 0.0, 8: 0.0},
}
_WEB_INTERESTS: dict[str, dict[str, float]] = {
    # Chance that a web-shop user of a household kind has browsed the category.
    HouseholdKind.BABY_FAMILY: {"baby": 0.75, "home": 0.3, "fashion": 0.2, "travel": 0.1},
    HouseholdKind.FAMILY: {"sports": 0.35, "electronics": 0.35, "home": 0.25, "travel": 0.25},
    HouseholdKind.SINGLE: {"electronics": 0.4, "fashion": 0.35, "sports": 0.3, "travel": 0.3},
    HouseholdKind.COUPLE: {"home": 0.35, "travel": 0.35, "garden": 0.2, "fashion": 0.25},
    HouseholdKind.PENSIONER: {"garden": 0.4, "travel": 0.25, "home": 0.2},
}


def months_ending(as_of: dt.date, count: int = MONTHS) -> list[dt.date]:
    """The first days of the ``count`` months ending with ``as_of``'s month, oldest first."""
    result = []
    year, month = as_of.year, as_of.month
    for _ in range(count):
        result.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return result[::-1]


@dataclass
class Rows:
    """Behaviour rows for one chunk of members, ready for the bulk loader."""

    purchases: list[tuple[object, ...]] = field(default_factory=list)
    visits: list[tuple[object, ...]] = field(default_factory=list)
    web: list[tuple[object, ...]] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    states: list[tuple[object, ...]] = field(default_factory=list)
    suppressions: list[tuple[object, ...]] = field(default_factory=list)
    bonus: list[tuple[object, ...]] = field(default_factory=list)


class Habits:
    """Behaviour for each generated person, from its own random stream."""

    def __init__(self, *, seed: int, as_of: dt.date) -> None:
        self.rng = random.Random(f"habits:{seed}")
        # A stream of its own: bonus purchases came later, and drawing them from
        # ``rng`` would have changed every register seeded before them.
        self.bonus_rng = random.Random(f"bonus:{seed}")
        self.as_of = as_of
        self.months = months_ending(as_of)
        self.seasons = [
            {group: factors.get(m.month, 1.0) for group, factors in _SEASON.items()}
            for m in self.months
        ]
        self.end = dt.datetime.combine(as_of, dt.time(20, 0), dt.UTC)
        self.next_event_id = 1
        self.next_suppression_id = 1

    def add(self, person: Person, rows: Rows) -> None:
        self._purchases(person, rows.purchases)
        self._visits(person, rows.visits)
        self._web(person, rows.web)
        self._consents(person, rows.events, rows.states)
        self._suppressions(person, rows.suppressions)
        self._bonus(person, rows.bonus)

    # -- purchases -------------------------------------------------------------------

    def _bonus(self, person: Person, out: list[tuple[object, ...]]) -> None:
        """Purchases at bonus partners on random days of the last year (distinct days)."""
        rng = self.bonus_rng
        if self.as_of.year - person.birth_year < 18:
            return
        since = max(person.member_since, self.as_of - dt.timedelta(days=364))
        span = (self.as_of - since).days + 1
        for partner in catalog.BONUS_PARTNERS:
            if span <= 0 or rng.random() >= partner.customers:
                continue
            wanted = max(1, round(rng.expovariate(1 / partner.days_per_year) * span / 365))
            days = sorted(set(rng.sample(range(span), min(wanted, span))))
            for offset in days:
                amount = round(partner.amount * (0.4 + 1.2 * rng.random()), 2)
                out.append((person.id, partner.code, since + dt.timedelta(days=offset), amount))

    def _habits(self, person: Person) -> list[Habit]:
        rng = self.rng
        habits: list[Habit] = []
        adult = self.as_of.year - person.birth_year >= 18
        # Some cards are barely used; everyone else has a couple of staple groups.
        activity = 0.25 if rng.random() < 0.1 else 1.0
        for code in rng.sample(_CORE_GROCERIES, 2):
            habits.append((_G[code], 0.38 * activity, 20.0 + 60.0 * rng.random()))
        code = rng.choice(_OTHER_GROCERIES if adult else _OTHER_GROCERIES[:-2])
        habits.append((_G[code], 0.25 * activity, 10.0 + 30.0 * rng.random()))
        habits.append((_G[rng.choice(_OCCASIONAL)], 0.15 * activity, 15.0 + 60.0 * rng.random()))
        if not adult:
            return habits  # three distinct groups: no duplicates possible
        for code, share, chance, amount in (*_KIND_HABITS.get(person.kind, ()), *_EVERYONE):
            if rng.random() < share:
                habits.append((_G[code], chance, amount))
        if person.kind != HouseholdKind.PENSIONER and rng.random() < 0.3:
            fuel = "diesel" if rng.random() < 0.3 else "petrol"
            habits.append((_G[fuel], 0.35, 60.0))
        if rng.random() < 0.05:
            habits.append((_G["bicycles"], 0.12, 450.0))
            habits.append((_G["cycling_gear"], 0.15, 40.0))
        # One summary row per group and month: a group picked twice keeps its first habit.
        unique: dict[int, Habit] = {}
        for habit in habits:
            unique.setdefault(habit[0], habit)
        return list(unique.values())

    def _purchases(self, person: Person, out: list[tuple[object, ...]]) -> None:
        rng = self.rng.random
        habits = self._habits(person)
        since = person.member_since.replace(day=1)
        member_id = person.id
        for month, season in zip(self.months, self.seasons, strict=True):
            if month < since:
                continue
            for group, chance, mean in habits:
                if rng() < chance * season.get(group, 1.0):
                    amount = round(mean * (0.4 + 1.2 * rng()), 2)
                    count = 1 + int(amount / (mean * 0.35))
                    out.append((member_id, group, month, amount, count))

    # -- restaurants and the web shop ------------------------------------------------

    def _visits(self, person: Person, out: list[tuple[object, ...]]) -> None:
        rng = self.rng
        nearby = STORES.restaurants.get(person.municipality.name)
        if not nearby:
            return
        chance = 0.45 if person.municipality.name == "Helsinki" else 0.25
        if person.kind == HouseholdKind.PENSIONER:
            chance *= 0.5
        if rng.random() >= chance:
            return
        favourites = rng.sample(nearby, min(len(nearby), 1 + int(rng.random() < 0.4)))
        for month in self.months:
            if month < person.member_since.replace(day=1):
                continue
            for store in favourites:
                if rng.random() < 0.35:
                    out.append((person.id, store, month, 1 + int(3 * rng.random() ** 2)))

    def _web(self, person: Person, out: list[tuple[object, ...]]) -> None:
        rng = self.rng
        seen: dict[str, dt.date] = {}
        r = rng.random()
        if r < 0.08:  # the spring bicycle letter's audience: browsed in the last 90 days
            seen["bicycles"] = self.as_of - dt.timedelta(days=rng.randrange(90))
        elif r < 0.14:
            seen["bicycles"] = self.as_of - dt.timedelta(days=rng.randrange(90, 396))
        if rng.random() < 0.4:
            for category, chance in _WEB_INTERESTS.get(person.kind, {}).items():
                if rng.random() < chance:
                    days = int(395 * rng.random() ** 2)
                    seen[category] = self.as_of - dt.timedelta(days=days)
        for category in catalog.WEB_CATEGORIES:  # a fixed order, for byte-equal seeds
            if category in seen:
                out.append((person.id, category, seen[category]))

    # -- consents and suppressions ---------------------------------------------------

    def _at(self, person: Person, *, after: dt.datetime | None = None) -> dt.datetime:
        """A moment between joining (or ``after``) and the as-of date, to the second."""
        start = after or dt.datetime.combine(person.member_since, dt.time(8, 0), dt.UTC)
        seconds = max(1, int((self.end - start).total_seconds()))
        return start + dt.timedelta(seconds=1 + int(seconds * self.rng.random()))

    def _consents(
        self, person: Person, events: list[tuple[object, ...]], states: list[tuple[object, ...]]
    ) -> None:
        rng = self.rng
        adult = self.as_of.year - person.birth_year >= 18
        joined = dt.datetime.combine(person.member_since, dt.time(8, 0), dt.UTC)
        decided: list[tuple[dt.datetime, str, str, str, str]] = []

        def add(purpose: str, channel: str, decision: str, at: dt.datetime) -> None:
            source = "enrollment" if at == joined else rng.choice(_SOURCES)
            decided.append((at, purpose, channel, decision, source))

        if person.email and adult:
            r = rng.random()
            if r < 0.54:
                at = joined if rng.random() < 0.5 else self._at(person)
                add(Purpose.OWN_MARKETING, Channel.EMAIL, Decision.GRANTED, at)
                if rng.random() < 0.06:  # changed their mind later
                    later = self._at(person, after=at)
                    add(Purpose.OWN_MARKETING, Channel.EMAIL, Decision.REFUSED, later)
                elif rng.random() < 0.55:
                    add(Purpose.PARTNER_MARKETING, Channel.EMAIL, Decision.GRANTED, at)
            elif r < 0.64:
                add(Purpose.OWN_MARKETING, Channel.EMAIL, Decision.REFUSED, self._at(person))
        if person.phone and adult and rng.random() < 0.12:
            add(Purpose.OWN_MARKETING, Channel.SMS, Decision.GRANTED, self._at(person))
        for scope_purpose, scope_channel, scope_decision, share in _OPT_OUTS:
            if rng.random() < share:
                add(scope_purpose, scope_channel, scope_decision, self._at(person))
        decided.sort(key=lambda e: e[0])
        latest: dict[tuple[str, str], tuple[int, dt.datetime, str]] = {}
        for at, purpose, channel, decision, source in decided:
            event_id = self.next_event_id
            self.next_event_id += 1
            actor = f"cs{rng.randint(1, 40):03d}" if source == "customer_service" else None
            events.append((event_id, person.id, purpose, channel, decision, at, source, actor))
            latest[(purpose, channel)] = (event_id, at, decision)
        for (purpose, channel), (event_id, at, decision) in latest.items():
            states.append((person.id, purpose, channel, decision, at, event_id))

    def _suppressions(self, person: Person, out: list[tuple[object, ...]]) -> None:
        rng = self.rng
        reasons: list[tuple[str, int, str]] = []  # (reason, days before as-of, source)
        if rng.random() < 0.04:
            reasons.append((SuppressionReason.OPTOUT_REGISTER, rng.randrange(1, 1800), "asml"))
        if person.status == "deceased":
            reasons.append(
                (SuppressionReason.DECEASED, rng.randrange(1, 700), "population_register")
            )
        if person.address_status == "returned":
            reasons.append((SuppressionReason.RETURNED_MAIL, rng.randrange(1, 365), "printhouse"))
        for reason, days, source in reasons:
            at = self.end - dt.timedelta(days=days, seconds=rng.randrange(36000))
            out.append((self.next_suppression_id, person.subject_hash, reason, at, source))
            self.next_suppression_id += 1


_SOURCES = ("web", "app", "store", "customer_service")
# (purpose, channel, decision, share of members) for the opt-out side of the ledger.
_OPT_OUTS = (
    (Purpose.OWN_MARKETING, Channel.POST, Decision.REFUSED, 0.04),
    (Purpose.PARTNER_MARKETING, Channel.POST, Decision.REFUSED, 0.10),
    (Purpose.DIRECT_MARKETING, Channel.ANY, Decision.OBJECTED, 0.03),
    (Purpose.MARKET_RESEARCH, Channel.ANY, Decision.OBJECTED, 0.02),
    (Purpose.PROFILING, Channel.ANY, Decision.OBJECTED, 0.01),
)
