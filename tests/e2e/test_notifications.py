"""A channel lists, reads and replays its own notifications (our callbacks to its notify_url), signed like every
channel endpoint; another channel's are not found."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.e2e.conftest import outcome, recharge, sink_prefixes, wait_final
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack

HTML = b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"


async def _until(client: AsyncTopupClient, notify_id: str, done: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await client.notification(notify_id)
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_list_read_and_replay_own_notifications(client: AsyncTopupClient, stack: Stack, sink: Any,
                                                      new_channel: Any) -> None:
    endpoint = sink((200, HTML), 200)
    order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
    await wait_final(client, order.order_id)
    await endpoint.wait_for(1)  # the job is recorded from the order's event, after its final status
    page = await client.notifications(order_id=order.order_id)
    [listed] = page.notifications
    assert (listed.order_id, listed.order_status, listed.notify_url) == (order.order_id, "SUCCEEDED",
                                                                         endpoint.url())
    one = await _until(client, listed.notify_id, lambda n: n.state == "delivered")
    assert (one.state, one.attempts) == ("delivered", 2)
    assert one.body is not None and one.body["notify_id"] == listed.notify_id
    assert [(a.http_status, a.acknowledged, a.trigger) for a in one.attempt_log] == [
        (200, False, "schedule"), (200, True, "schedule")]  # an HTML page is no acknowledgement
    assert one.attempt_log[0].response_excerpt.startswith("<!DOCTYPE html>")

    assert await client.replay_notification(listed.notify_id) == "pending"
    again = await _until(client, listed.notify_id, lambda n: n.attempts == 3)
    assert (again.state, again.attempt_log[-1].trigger) == ("delivered", "replay:channel")
    received = await endpoint.wait_for(3)
    assert len({body for _, _, body in received}) == 1  # the same notification, the same body each time

    assert [n.notify_id for n in (await client.notifications(state="delivered", limit=200)).notifications
            ].count(listed.notify_id) == 1
    other = await new_channel(f"notif{time.time_ns() % 10**9}", callbacks={"enabled": True,
                                                                           "url_prefixes": sink_prefixes()})
    assert await outcome(other.notification(listed.notify_id)) == (404, "NOTIFICATION_NOT_FOUND")
    assert await outcome(other.replay_notification(listed.notify_id)) == (404, "NOTIFICATION_NOT_FOUND")
    assert listed.notify_id not in {n.notify_id for n in (await other.notifications()).notifications}
    assert await outcome(client.notification("not-a-notify-id")) == (404, "NOTIFICATION_NOT_FOUND")
    assert await outcome(client.notifications(cursor="garbage")) == (422, "CURSOR_INVALID")


async def test_notifications_in_pages(client: AsyncTopupClient, sink: Any) -> None:
    endpoint = sink(200)
    orders = [await client.create_recharge(**recharge(notify_url=endpoint.url())) for _ in range(3)]
    for o in orders:
        await wait_final(client, o.order_id)
    await endpoint.wait_for(3)
    seen: list[str] = []
    cursor = None
    while True:  # one a page (jobs recorded in one transaction share their time: the cursor keeps them apart)
        page = await client.notifications(limit=1, cursor=cursor)
        assert len(page.notifications) == 1
        seen += [n.order_id for n in page.notifications]
        if not (cursor := page.next_cursor) or {o.order_id for o in orders} <= set(seen):
            break
    assert len(set(seen)) == len(seen)  # no notification twice across pages
    assert {o.order_id for o in orders} <= set(seen)
