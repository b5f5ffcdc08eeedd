"""Batch delivery: one batch job claims its batch, re-checks, renders or builds,
hands off and records; exactly once for post, at most once for e-mail.

=================  ==============================================================
:mod:`.claims`     the batch row as the lock: claim, release, step, keep-alive
:mod:`.recheck`    load the recipients, re-check them against the policy, record
:mod:`.post`       the post path: one sealed PDF per batch into the outbox
:mod:`.email`      the e-mail path: chunks to the mailer, answers recorded
:mod:`.batches`    the orchestrator (:func:`run_batch`) and the open/stale/fail
                   queries the sweeper and finalize use
:mod:`.steps`      wall-clock and CPU per step of a job, logged when it ends
=================  ==============================================================

docs/campaigns.md tells the whole story and the invariants it keeps.
"""

from dispatch.campaigns.delivery.batches import (
    BatchOutcome,
    TransportFor,
    describe,
    fail_batch,
    open_batches,
    run_batch,
    stale_batches,
    unfinished,
)
from dispatch.campaigns.delivery.claims import BatchBusy, Claim, LostClaim, claim_batch, release
from dispatch.campaigns.delivery.email import UNCONFIRMED, RetryLater
from dispatch.campaigns.delivery.post import letter_for
from dispatch.campaigns.delivery.recheck import recipient_columns

__all__ = [
    "UNCONFIRMED",
    "BatchBusy",
    "BatchOutcome",
    "Claim",
    "LostClaim",
    "RetryLater",
    "TransportFor",
    "claim_batch",
    "describe",
    "fail_batch",
    "letter_for",
    "open_batches",
    "recipient_columns",
    "release",
    "run_batch",
    "stale_batches",
    "unfinished",
]
