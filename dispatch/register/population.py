"""Who the synthetic members are: households, names, addresses, ages, home stores.

Faker is far too slow to call per member (about 50 µs a name), so :class:`NamePools`
draws a few thousand names and street names from Faker once, seeded with the seed,
and :class:`Population` combines them with a :class:`random.Random` of the same seed.
Everything is a pure function of (seed, members, as-of date, secret key): the same
arguments give the same register, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from faker import Faker

from dispatch.db.types import AddressStatus, HouseholdKind, Language, MemberStatus
from dispatch.register import catalog
from dispatch.register.catalog import Municipality
from dispatch.register.hashing import subject_hash

_POOL_SIZE = 3000
_ASCII = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u", " ": "", "'": ""})

# Household kinds and their share of households. Families and couples usually have two
# adult members (each with their own card), which is why segments deduplicate households.
HOUSEHOLD_KINDS = (
    (HouseholdKind.SINGLE, 0.30),
    (HouseholdKind.COUPLE, 0.22),
    (HouseholdKind.FAMILY, 0.20),
    (HouseholdKind.BABY_FAMILY, 0.08),
    (HouseholdKind.PENSIONER, 0.20),
)
_ADULT_AGES = {
    HouseholdKind.SINGLE: (18, 64),
    HouseholdKind.COUPLE: (22, 64),
    HouseholdKind.FAMILY: (30, 58),
    HouseholdKind.BABY_FAMILY: (23, 43),
    HouseholdKind.PENSIONER: (65, 94),
}
_SECOND_ADULT = {  # chance that a second adult of the household is a member too
    HouseholdKind.SINGLE: 0.0,
    HouseholdKind.COUPLE: 0.85,
    HouseholdKind.FAMILY: 0.80,
    HouseholdKind.BABY_FAMILY: 0.80,
    HouseholdKind.PENSIONER: 0.55,
}
_TEEN_IN_FAMILY = 0.08  # a 15-17-year-old with their own card: about 1% of members


@dataclass(slots=True)
class Person:
    """One generated member, with what behaviour generation needs to know about them."""

    id: int
    household_id: int
    kind: str
    female: bool
    birth_year: int
    language: str
    municipality: Municipality
    home_store_id: int
    email: str | None
    phone: str | None
    member_since: dt.date
    status: str
    address_status: str
    card_number: str
    subject_hash: str
    first_name: str
    last_name: str
    street: str
    postcode: str
    address_extra: str | None

    def row(self) -> tuple[object, ...]:
        """The ``members`` row, in :data:`MEMBER_COLUMNS` order."""
        muni = self.municipality
        sv = self.language == Language.SV and muni.post_town_sv
        return (
            self.id,
            self.card_number,
            self.subject_hash,
            self.first_name,
            self.last_name,
            self.address_extra,
            self.street,
            self.postcode,
            muni.post_town_sv if sv else muni.post_town,
            muni.name,
            muni.region,
            self.language,
            self.birth_year,
            self.email,
            self.phone,
            self.household_id,
            self.home_store_id,
            self.member_since,
            self.status,
            self.address_status,
        )


MEMBER_COLUMNS = (
    "id",
    "card_number",
    "subject_hash",
    "first_name",
    "last_name",
    "address_extra",
    "street",
    "postcode",
    "post_town",
    "municipality",
    "region",
    "language",
    "birth_year",
    "email",
    "phone",
    "household_id",
    "home_store_id",
    "member_since",
    "status",
    "address_status",
)


@functools.cache
def name_pools(seed: int) -> NamePools:
    """The pools for ``seed``, drawn once per process (they are never modified)."""
    return NamePools(seed)


class NamePools:
    """First names by language and sex, surnames and street names, drawn once."""

    def __init__(self, seed: int) -> None:
        self.female: dict[str, list[str]] = {}
        self.male: dict[str, list[str]] = {}
        self.last: dict[str, list[str]] = {}
        self.streets: dict[str, list[str]] = {}
        for language, locale in ((Language.FI, "fi_FI"), (Language.SV, "sv_SE")):
            fake = Faker(locale)
            fake.seed_instance(seed)
            self.female[language] = [fake.first_name_female() for _ in range(_POOL_SIZE)]
            self.male[language] = [fake.first_name_male() for _ in range(_POOL_SIZE)]
            self.last[language] = [fake.last_name() for _ in range(_POOL_SIZE)]
            self.streets[language] = [fake.street_name() for _ in range(_POOL_SIZE // 2)]
        # Finland-Swedish surnames, as common as the Faker ones taken together.
        self.last[Language.SV] += list(catalog.FINLAND_SWEDISH_SURNAMES) * (
            _POOL_SIZE // len(catalog.FINLAND_SWEDISH_SURNAMES)
        )


class _Stores:
    """The stores near each municipality, by kind, for picking a home store."""

    def __init__(self) -> None:
        self.retail: dict[str, list[int]] = {}
        self.fuel: dict[str, list[int]] = {}
        self.restaurants: dict[str, list[int]] = {}
        by_kind = {"retail": self.retail, "fuel": self.fuel, "restaurant": self.restaurants}
        for store in catalog.stores():
            by_kind[store.kind].setdefault(store.municipality, []).append(store.id)


STORES = _Stores()


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that makes ``digits + check`` a valid card number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


@dataclass(frozen=True, slots=True)
class _Home:
    """What the members of one household share."""

    household_id: int
    kind: str
    muni: Municipality
    street: str
    postcode: str
    store: int


class Population:
    """Generates households and their members, ids 1..``members``, in a fixed order."""

    def __init__(self, *, members: int, seed: int, as_of: dt.date, secret_key: str) -> None:
        self.total = members
        self.as_of = as_of
        self.secret_key = secret_key
        self.rng = random.Random(f"people:{seed}")
        self.pools = name_pools(seed)
        self.munis = catalog.MUNICIPALITIES
        self.muni_weights = list(accumulate(m.population for m in self.munis))
        self.kind_weights = list(accumulate(w for _, w in HOUSEHOLD_KINDS))
        # Card numbers: an affine map of the member id modulo 10**11 with a multiplier
        # coprime to 10 is a bijection, so numbers are unique yet look scattered.
        self.card_mult = self.rng.randrange(10**9, 10**10) * 10 + self.rng.choice((1, 3, 7, 9))
        self.card_add = self.rng.randrange(10**11)

    def households(self) -> Iterator[tuple[int, str, list[Person]]]:
        """Yield (household id, kind, members) until ``members`` people exist."""
        next_id = 1
        for household_id in itertools.count(1):
            if next_id > self.total:
                return
            kind, people = self._household(household_id, next_id)
            people = people[: self.total - next_id + 1]
            next_id += len(people)
            yield household_id, kind, people

    def _household(self, household_id: int, first_id: int) -> tuple[str, list[Person]]:
        rng = self.rng
        kind = rng.choices(HOUSEHOLD_KINDS, cum_weights=self.kind_weights)[0][0]
        muni = rng.choices(self.munis, cum_weights=self.muni_weights)[0]
        language = Language.SV if rng.random() < muni.sv_share else Language.FI
        home = _Home(
            household_id=household_id,
            kind=kind,
            muni=muni,
            street=self._street(language, muni),
            postcode=rng.choice(muni.postcodes),
            store=self._home_store(kind, muni),
        )
        last_name = rng.choice(self.pools.last[language])
        low, high = _ADULT_AGES[kind]
        age = low + int((high - low + 1) * rng.random() ** 1.4)
        female = rng.random() < 0.55
        people = [self._person(first_id, home, female, age, language, last_name)]
        if rng.random() < _SECOND_ADULT[kind]:
            youngest = low if kind == HouseholdKind.PENSIONER else 18
            partner_age = max(youngest, age + rng.randint(-6, 6))
            partner_language = language
            if rng.random() < 0.15:  # a partner met elsewhere: any language of the place
                partner_language = Language.SV if rng.random() < muni.sv_share else Language.FI
            own_name = rng.random() < 0.25
            surname = rng.choice(self.pools.last[partner_language]) if own_name else last_name
            partner_female = (not female) if rng.random() < 0.92 else female
            next_id = first_id + len(people)
            people.append(
                self._person(next_id, home, partner_female, partner_age, partner_language, surname)
            )
        if kind == HouseholdKind.FAMILY and rng.random() < _TEEN_IN_FAMILY:
            teen_female, teen_age = rng.random() < 0.5, rng.randint(15, 17)
            next_id = first_id + len(people)
            people.append(self._person(next_id, home, teen_female, teen_age, language, last_name))
        return kind, people

    def _street(self, language: str, muni: Municipality) -> str:
        rng = self.rng
        street = f"{rng.choice(self.pools.streets[language])} {1 + int(80 * rng.random() ** 2)}"
        if muni.population >= 50 and rng.random() < 0.6:
            street += f" {rng.choice('ABCDEF')} {rng.randint(1, 60)}"
        return street

    def _home_store(self, kind: str, muni: Municipality) -> int:
        rng = self.rng
        abc = (0.35 if kind == HouseholdKind.PENSIONER else 0.05) > rng.random()
        choices = STORES.fuel[muni.name] if abc else STORES.retail[muni.name]
        return rng.choice(choices)

    def _person(
        self, member_id: int, home: _Home, female: bool, age: int, language: str, last_name: str
    ) -> Person:
        rng = self.rng
        pools = self.pools
        first = rng.choice((pools.female if female else pools.male)[language])
        card = self._card_number(member_id)
        birth_year = self.as_of.year - age
        adult = age >= 18
        email = None
        if rng.random() < (0.87 if adult else 0.5):
            local = f"{first}.{last_name}".lower().translate(_ASCII)
            if rng.random() < 0.4:
                local += str(rng.randint(1, 99))
            email = f"{local}@{rng.choice(catalog.EMAIL_DOMAINS)}"
        phone = None
        if rng.random() < 0.9:
            phone = f"+358{rng.choice(('40', '44', '45', '50'))}{rng.randint(1000000, 9999999)}"
        earliest = max(dt.date(1995, 1, 1), dt.date(birth_year + 15, 1, 1))
        span = max(1, (self.as_of - earliest).days)
        since = earliest + dt.timedelta(days=int(span * rng.random()))
        deceased = rng.random() < (0.02 if age >= 65 else 0.001)
        returned = rng.random() < 0.01
        extra = f"c/o {rng.choice(pools.last[language])}" if rng.random() < 0.01 else None
        return Person(
            id=member_id,
            household_id=home.household_id,
            kind=home.kind,
            female=female,
            birth_year=birth_year,
            language=language,
            municipality=home.muni,
            home_store_id=home.store,
            email=email,
            phone=phone,
            member_since=since,
            status=MemberStatus.DECEASED if deceased else MemberStatus.ACTIVE,
            address_status=AddressStatus.RETURNED if returned else AddressStatus.DELIVERABLE,
            card_number=card,
            subject_hash=subject_hash(self.secret_key, card),
            first_name=first,
            last_name=last_name,
            street=home.street,
            postcode=home.postcode,
            address_extra=extra,
        )

    def _card_number(self, member_id: int) -> str:
        body = f"9246{(self.card_mult * member_id + self.card_add) % 10**11:011d}"
        return body + luhn_digit(body)
