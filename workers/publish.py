"""Payout messages on Redis pub/sub (at-most-once: each carries the queue version, so a client
that notices a gap re-queries), and a "settled here" notice per ticket of the batch (I-2: the
`ticket` subscription re-reads the ticket on it)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from services.payouts import payout_channels, ticket_channel


def publisher(redis: Redis):  # type: ignore[no-untyped-def]
    async def publish(queue_id: str, payouts: list[dict[str, Any]], version: int, events: list[int] = []) -> None:  # noqa: B006 (read only)
        await publish_all(redis, [(queue_id, payouts, version, events)])

    return publish


async def publish_all(redis: Redis, batches: list[tuple[str, list[dict[str, Any]], int, list[int]]]) -> None:
    """The messages of several committed batches (queue, payouts, version, events each) in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for queue_id, payouts, version, events in batches:
            for p in payouts:
                message = json.dumps({**p, "queue": queue_id, "version": version})
                for name in payout_channels(queue_id, p["member"]):
                    pipe.publish(name, message)
            for event in events:
                pipe.publish(ticket_channel(event), json.dumps({"queue": queue_id, "version": version}))
        await pipe.execute()
