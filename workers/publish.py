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


PUBLISH_MANY = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end"
"""ARGV: channel, message, channel, message …: published in order, in one command."""
PER_SCRIPT = 2000  # (channel, message) pairs a script call publishes: Redis serves other clients between two calls


async def publish_all(redis: Redis, batches: list[tuple[str, list[dict[str, Any]], int, list[int]]]) -> None:
    """The messages of several committed batches (queue, payouts, version, events each) in one round
    trip: a few script calls of up to PER_SCRIPT messages each rather than one PUBLISH per message
    (a daily settlement's chunk publishes 10 000: the commands cost the worker far more than the
    messages cost Redis)."""
    out: list[str] = []
    for queue_id, payouts, version, events in batches:
        for p in payouts:
            message = json.dumps({**p, "queue": queue_id, "version": version})
            for name in payout_channels(queue_id, p["member"]):
                out += (name, message)
        for event in events:
            out += (ticket_channel(event), json.dumps({"queue": queue_id, "version": version}))
    if not out:
        return
    step = 2 * PER_SCRIPT
    if len(out) <= step:
        await redis.eval(PUBLISH_MANY, 0, *out)  # type: ignore[misc]
        return
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(out), step):
            pipe.eval(PUBLISH_MANY, 0, *out[start:start + step])
        await pipe.execute()
