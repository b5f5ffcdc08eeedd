"""Column types and value sets shared by every domain package.

Enumerations are stored as short strings with a CHECK constraint rather than native
enum types: the same schema then works on SQLite and PostgreSQL, and adding a value
is a one-line migration.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, TypeDecorator
from sqlalchemy.engine import Dialect

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def enum_check(column: str, enum: type[StrEnum], name: str | None = None) -> CheckConstraint:
    values = ", ".join(f"'{v.value}'" for v in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or f"{column}_valid")


class Language(StrEnum):
    FI = "fi"
    SV = "sv"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    DECEASED = "deceased"
    ERASED = "erased"


class AddressStatus(StrEnum):
    DELIVERABLE = "deliverable"
    RETURNED = "returned"


class HouseholdKind(StrEnum):
    FAMILY = "family"
    BABY_FAMILY = "baby_family"
    COUPLE = "couple"
    SINGLE = "single"
    PENSIONER = "pensioner"


class Purpose(StrEnum):
    OWN_MARKETING = "own_marketing"
    PARTNER_MARKETING = "partner_marketing"
    MARKET_RESEARCH = "market_research"
    PROFILING = "profiling"
    # Umbrella used only by objections: "no direct marketing at all" (GDPR Art. 21(2)).
    DIRECT_MARKETING = "direct_marketing"


class Channel(StrEnum):
    POST = "post"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    # Umbrella used only by objections: every channel.
    ANY = "any"


class Decision(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    OBJECTED = "objected"


class SuppressionReason(StrEnum):
    OPTOUT_REGISTER = "optout_register"
    DECEASED = "deceased"
    RETURNED_MAIL = "returned_mail"
    ERASED = "erased"
