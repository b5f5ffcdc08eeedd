"""The configuration a campaign needs, checked before any work starts.

A missing print house key used to surface as a batch job retried for minutes
("configuration: no print house key" nine times) before anyone was told. The same
check now runs in three places, and says what is wrong in one line:

- ``dispatch campaign start`` checks the campaign's channel before the snapshot
  (exit 1);
- ``dispatch worker`` refuses to start while a channel of an active campaign cannot
  work;
- ``/readyz`` reports each channel's state.

Checks write nothing and open no connection: reaching the outbox and the broker is
``/readyz``'s other checks' business, and a transient outage keeps its retries.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.campaigns.models import Campaign
from dispatch.campaigns.states import ACTIVE
from dispatch.config import Settings
from dispatch.db.types import Channel
from dispatch.errors import ConfigurationError
from dispatch.transports.channels import CHECKS

#: The channels batch jobs deliver on.
CHANNELS = (Channel.POST, Channel.EMAIL)


def problems(settings: Settings, channels: Iterable[Channel]) -> dict[Channel, ConfigurationError]:
    """What stops each of ``channels`` from working (absent: it can work)."""
    found = {}
    for channel in channels:
        try:
            CHECKS[channel](settings)
        except ConfigurationError as exc:
            found[channel] = exc
    return found


def require(settings: Settings, channels: Iterable[Channel]) -> None:
    """Raise the first :class:`ConfigurationError` of ``channels``, if any."""
    for exc in problems(settings, channels).values():
        raise exc


def channels_in_use(session: Session) -> set[Channel]:
    """The channels of campaigns that are scheduled, snapshotting or dispatching."""
    return {
        Channel(channel)
        for channel in session.scalars(
            select(Campaign.channel)
            .where(Campaign.status.in_([s.value for s in ACTIVE]))
            .distinct()
        )
    }
