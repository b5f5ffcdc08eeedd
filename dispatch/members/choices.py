"""The preference centre's grid: what the member receives, per purpose and channel.

A cell is *on* when the consent rules allow contact for that purpose on that channel,
leaving the national opt-out register aside (it is not the member's choice here):
e-mail and SMS only after a grant, post and phone unless refused. A cell under an
objection is off and cannot be switched on from a link.

A change of the form is split in two (:func:`plan`). Switching a cell off restricts:
it is recorded at once. Switching one on widens what the member receives, which a
link from a letter or an e-mail may never do by itself: it waits for a confirmation
sent to the member's registered e-mail address (double opt-in). SMS marketing would
need a confirmation to the phone, and the service has no SMS channel, so it cannot
be switched on here at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dispatch.db.types import Channel, Decision, Purpose
from dispatch.register.consent import (
    CAMPAIGN_CHANNELS,
    CAMPAIGN_PURPOSES,
    first_blocking_rule,
    objection_scopes,
)

Pair = tuple[Purpose, Channel]
#: Channels whose marketing the centre can never switch on (no way to confirm).
UNCONFIRMABLE = frozenset({Channel.SMS})


@dataclass(frozen=True)
class Cell:
    purpose: Purpose
    channel: Channel
    on: bool
    #: Off because of an objection that only customer service can lift.
    locked: bool

    @property
    def key(self) -> str:
        """The form value of the cell: ``purpose:channel``."""
        return f"{self.purpose.value}:{self.channel.value}"


def grid(states: Mapping[tuple[str, str], str]) -> list[Cell]:
    """Every (purpose, channel) the member can choose, in display order."""
    cells = []
    for purpose in CAMPAIGN_PURPOSES:
        for channel in CAMPAIGN_CHANNELS:
            rule = first_blocking_rule(states, purpose, channel, on_optout_register=False)
            umbrella = any(
                states.get(key) == Decision.OBJECTED
                for key in objection_scopes(purpose, channel)
                if key != (purpose, channel)
            )
            cells.append(Cell(purpose, channel, on=rule is None, locked=umbrella))
    return cells


def parse_keys(values: Iterable[str]) -> set[Pair]:
    """The cells a submitted form switches on; anything not a cell is ignored."""
    pairs = set()
    valid = {f"{p.value}:{c.value}": (p, c) for p in CAMPAIGN_PURPOSES for c in CAMPAIGN_CHANNELS}
    for value in values:
        if value in valid:
            pairs.add(valid[value])
    return pairs


@dataclass(frozen=True)
class Plan:
    """What a submitted form asks for."""

    #: Cells switched off: recorded at once as refusals.
    restrict: list[Pair]
    #: Cells switched on that a confirmation to the member's e-mail can grant.
    widen: list[Pair]
    #: Cells switched on that cannot be granted from here (objection, SMS).
    refused: list[Pair]


def plan(cells: Iterable[Cell], wanted: set[Pair]) -> Plan:
    restrict, widen, refused = [], [], []
    for cell in cells:
        pair = (cell.purpose, cell.channel)
        if cell.on and pair not in wanted:
            restrict.append(pair)
        elif not cell.on and pair in wanted:
            if cell.locked or cell.channel in UNCONFIRMABLE:
                refused.append(pair)
            else:
                widen.append(pair)
    return Plan(restrict, widen, refused)
