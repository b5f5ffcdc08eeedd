"""How PostgreSQL runs a batch's statements when its statistics know none of the
campaign's rows, as for every new campaign: no statement that matches the batch's
recipients against a list of member ids compares each id with each recipient.

The plans are PostgreSQL's own, from ``auto_explain`` on every connection of the test,
planned as a prepared statement is after its fifth run (a generic plan, which cannot
see how long the arrays of ids are). Both campaigns ran such a nested loop before
(bench/HISTORY.md): the numbering of a post batch's letters, and the marking of
e-mail recipients as sent. And a recipient's status changes are heap-only updates,
which touch no index (migration 0018).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import Pool

from dispatch.campaigns.models import CampaignStatus
from dispatch.jobs import tasks
from tests.campaigns.conftest import PARTNER, World
from tests.conftest import empty_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only (the plans are the point)."""
    empty_database(pg_url)
    return pg_url


@pytest.fixture
def plans() -> Iterator[list[str]]:
    """The plan of every statement run on a connection opened from now on."""
    found: list[str] = []

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.add_notice_handler(
            lambda diagnostic: found.append(diagnostic.message_primary or "")
        )
        with dbapi_connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET auto_explain.log_min_duration = 0")
            cursor.execute("SET auto_explain.log_level = notice")
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            # The test's tables are a few pages, which PostgreSQL would read whole; in
            # service a batch's recipients come by index, as here.
            cursor.execute("SET enable_seqscan = off")
        dbapi_connection.commit()

    event.listen(Pool, "connect", on_connect)
    tasks.reset_runtime()  # the jobs' engine opens its connections anew
    try:
        yield found
    finally:
        event.remove(Pool, "connect", on_connect)
        tasks.reset_runtime()


def fresh_statistics(world: World) -> None:
    """What the statistics say before a first campaign: no recipients at all."""
    with world.engine.connect() as connection:
        connection.execute(text("ANALYZE campaign_recipients"))
        connection.commit()


def matching_ids(plans: list[str]) -> list[str]:
    """The plans of the UPDATEs of recipients that match a list of member ids."""
    return [
        plan
        for plan in plans
        if "UPDATE campaign_recipients" in plan and "BIGINT[]" in plan and "Update on" in plan
    ]


def assert_linear(updates: list[str]) -> None:
    """No nested loop over ids and recipients, and no filter searching an array of ids
    for each recipient row (``member_id = ANY (...)``, a linear search per row)."""
    for plan in updates:
        nodes = "\n".join(line for line in plan.splitlines() if "Query Text" not in line)
        assert "Nested Loop" not in nodes, plan
        assert "= ANY" not in nodes, plan


def test_a_post_batch_numbers_its_letters_without_a_nested_loop(
    world: World, plans: list[str]
) -> None:
    fresh_statistics(world)
    world.add_members(50)
    cid = world.start("own_post")
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    numbering = [plan for plan in matching_ids(plans) if "sequence_no" in plan]
    assert len(numbering) == 3  # one per batch of 20, 20 and 10 letters
    assert_linear(numbering)


def test_an_email_batch_records_its_sends_without_a_nested_loop(
    world: World, plans: list[str]
) -> None:
    fresh_statistics(world)
    world.add_members(50, email_opt_in=True)
    cid = world.start("partner_email", creative=PARTNER)
    world.run_all(cid)

    assert world.status(cid) == CampaignStatus.COMPLETED.value
    marks = matching_ids(plans)
    assert len(marks) >= 3  # at least the sends of each of the three batches
    assert_linear(marks)


def hot_share(world: World, statement: str, cid: int) -> tuple[int, int]:
    """(row updates, of them heap-only) by ``statement``, in a transaction of its own
    (the next one can then prune the row versions this one left behind)."""
    with world.engine.connect() as connection:
        connection.execute(text(statement), {"c": cid})
        updated, hot = connection.execute(
            text(
                "SELECT pg_stat_get_xact_tuples_updated(c.oid),"
                " pg_stat_get_xact_tuples_hot_updated(c.oid)"
                " FROM pg_class c WHERE c.relname = 'campaign_recipients'"
            )
        ).one()
        connection.commit()
    return updated, hot


def test_a_recipients_status_changes_in_place_on_its_page(world: World) -> None:
    """The snapshot leaves room on each page and no index holds the status, so each of
    a batch's status changes is a heap-only update: no new entry in any index."""
    world.add_members(50)
    cid = world.dispatching("own_post")
    batch = "campaign_id = :c AND batch_no = 0"
    with world.engine.connect() as connection:
        letters = connection.execute(
            text(f"SELECT count(*) FROM campaign_recipients WHERE {batch}"), {"c": cid}
        ).scalar_one()
    included = hot_share(
        world,
        f"UPDATE campaign_recipients SET status = 'included', sequence_no = 1,"
        f" updated_at = now() WHERE {batch} AND status = 'pending'",
        cid,
    )
    delivered = hot_share(
        world,
        f"UPDATE campaign_recipients SET status = 'delivered', updated_at = now()"
        f" WHERE {batch} AND status = 'included'",
        cid,
    )
    # Every row updated was updated in place (PostgreSQL 15 counts each twice here).
    for updated, hot in (included, delivered):
        assert updated >= letters > 0
        assert hot == updated
