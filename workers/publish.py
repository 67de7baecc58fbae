"""Payout messages on Redis pub/sub (at-most-once: each carries the queue version, so a client
that notices a gap re-queries)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

PREFIX = "rebate:payouts"


def channel(kind: str, ident: str) -> str:
    """kind is one of member, queue, store, cashier."""
    return f"{PREFIX}:{kind}:{ident}"


def payout_channels(queue_id: str, member: str) -> list[str]:
    out = [channel("queue", queue_id), channel("member", member)]
    parts = queue_id.split(":")
    if len(parts) == 3 and parts[1] in ("STORE", "CASHIER"):
        out.append(channel("store", parts[2]))
    return out


def publisher(redis: Redis):  # type: ignore[no-untyped-def]
    async def publish(queue_id: str, payouts: list[dict[str, Any]], version: int) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for p in payouts:
                message = json.dumps({**p, "queue": queue_id, "version": version})
                for name in payout_channels(queue_id, p["member"]):
                    pipe.publish(name, message)
            await pipe.execute()

    return publish
