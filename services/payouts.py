"""The names of the payout channels on Redis pub/sub: the worker publishes on them (`workers.publish`),
the API's subscriptions listen."""

from __future__ import annotations

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
