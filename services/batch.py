"""What one settlement batch of one queue carries between the shared mechanism and a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.ledger import Asset, Posting
from domain.money import from_fen
from store.db import Connection
from store.ledger import balances


class FenceLost(Exception):
    """Another writer advanced the queue since this batch read it: nothing may be written."""


@dataclass(slots=True)
class Item:
    """One pending inbox item: an event's work for this queue."""

    id: int
    event_id: int
    type: str
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(slots=True)
class Batch:
    conn: Connection
    queue_id: str
    head: int
    tail: int
    pool: Decimal
    version: int
    items: list[Item]
    postings: list[tuple[Posting, int | None]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    resume_at: int | None = None  # an item that made progress but is not finished: it and those after stay PENDING
    state: dict[str, Any] | None = None  # the queue's model state (`queue.state`) as the fence read it; None: not read
    earlier: list[tuple[Posting, int | None]] = field(default_factory=list)  # of the batches before it in its transaction, not yet in the balances
    preloaded: dict[str, Any] = field(default_factory=dict)  # what the model's `prepare` read for it with the other batches of its transaction

    @property
    def finished(self) -> list[Item]:
        return [i for i in self.items if self.resume_at is None or i.id < self.resume_at]

    def post(self, postings: list[Posting], item: Item) -> None:
        self.postings.extend((p, item.event_id) for p in postings)
        for p in postings:
            if p.asset is Asset.CNY and p.target.startswith("member:") and p.target.endswith(":CASH"):
                self.paid_out(p.target.split(":")[1], p.amount, p.key, item, p.memo)

    def paid_out(self, member: str, amount: Decimal, key: str, item: Item, kind: str) -> None:
        """A payout to the member's cash, announced once the batch commits (its transfer written by
        `post` or by the store itself)."""
        self.payouts.append({"member": member, "amount": str(amount), "key": key, "event": item.event_id, "kind": kind})

    def paid_out_many(self, members: list[str], fens: list[int], keys: list[str], item: Item, kind: str) -> None:
        """`paid_out` of many payouts given as columns (a daily settlement's chunk): each distinct
        amount is formatted once."""
        text = {fen: str(from_fen(fen)) for fen in set(fens)}
        event = item.event_id
        self.payouts.extend({"member": m, "amount": text[f], "key": k, "event": event, "kind": kind} for m, f, k in zip(members, fens, keys, strict=True))

    async def balance(self, account: str, asset: Asset) -> Decimal:
        """The account's balance including what this batch (and those before it in its transaction) posted so far."""
        stored = (await balances(self.conn, [account])).get((account, asset.value), Decimal("0.00"))
        for p, _ in (*self.earlier, *self.postings):
            if p.asset is asset:
                stored += p.amount if p.target == account else (-p.amount if p.source == account else 0)
        return stored
