"""The names of the payout and ticket channels on Redis pub/sub: the worker publishes on them
(`workers.publish`) after a batch commits, the API's subscriptions listen."""

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


def ticket_channel(event_id: int) -> str:
    """A ticket's channel (I-2): a queue settled its part of the event; the ticket is re-read."""
    return f"rebate:tickets:{event_id}"
