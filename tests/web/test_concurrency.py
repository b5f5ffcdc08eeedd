"""Many requests at once: each is answered, none waits on a pool it cannot get."""

from __future__ import annotations

import anyio
import anyio.to_thread
import httpx2

from dispatch.accounts import services as accounts
from dispatch.db.engine import session_scope
from dispatch.web.access import DB_SLOTS, SESSION_COOKIE
from tests.web.conftest import Site

BURST = 40


def test_a_burst_larger_than_the_thread_pool_and_the_connection_pool_is_served(
    site: Site,
) -> None:
    """A request holds its connection across thread-pool calls (access check, handler,
    commit). With fewer threads than requests in flight and more requests than
    connections, unbounded admission deadlocks: threads wait in the pool's checkout for
    connections whose requests wait for a thread to commit, until the pool's timeout
    turns each into a 500. The service admits DB_SLOTS requests at a time instead."""
    with session_scope(site.engine) as session:
        user = accounts.get_user(session, "a_editor")
        cookie = accounts.open_session(session, user, "testclient", verified=True).value

    async def burst() -> list[int]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 2  # fewer threads than requests, as under heavy load
        transport = httpx2.ASGITransport(app=site.app)
        statuses: list[int] = []
        async with httpx2.AsyncClient(
            transport=transport, base_url="https://testserver", cookies={SESSION_COOKIE: cookie}
        ) as client:

            async def one(path: str) -> None:
                statuses.append((await client.get(path)).status_code)

            async with anyio.create_task_group() as group:
                for i in range(BURST):
                    group.start_soon(one, "/partner" if i % 2 else "/partner/campaigns")
        return statuses

    assert BURST > 2 * DB_SLOTS  # more than the pool would hold without the bound
    # On the site's own event loop thread (a browser test may hold this thread's loop).
    assert site.portal is not None
    assert site.portal.call(burst) == [200] * BURST
