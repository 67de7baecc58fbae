"""分销 batch handler (queue `dr`): completed orders pay DR-1..DR-5, refunds reverse them (DR-8),
the shareholder dividend of a period runs as an item of the queue after what came before it (DR-6).

Idempotent: an order the model already settled is not paid again; a period's dividend runs once
(its event key, and its `job_run` row written in the same fenced transaction as the payouts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain import distribution as dr
from domain import team_paths as tp
from domain.errors import DomainError
from domain.ledger import Asset, Wallet, member_account
from domain.level_difference import FirstAtOrAbove
from domain.money import to_fen
from services.batch import Batch, Item
from services.model_settings import load_settings
from store import distribution as store
from store import jobs
from store import team_paths as paths
from store.db import Connection
from store.orders import line_amounts

SHAREHOLDER_DIVIDEND = "distribution.shareholder_dividend"
REWARDED_CHANNELS = ("STORE_ONLINE", "CASHIER")  # DR-4: a store's order flow


@dataclass(frozen=True, slots=True)
class Chain:
    """What DR-1..DR-3 read of an orderer's ancestors, and where its amount joins their team performance."""

    referrers: list[str]
    team: FirstAtOrAbove | None
    slots: list[tuple[str, int]]


async def team_chain(conn: Connection, member: str, settings: dr.DistributionSettings) -> Chain:
    """The orderer's referrers (DR-1) and the level-difference lookup over its ancestors with their
    team tiers as they stood before the order (DR-2), from the team paths (ADR 0008): a few queries
    whatever the depth — the route (one row per path on the way up), one Fenwick descent per tier
    reached, and the members at the distances the rewards name."""
    route, totals = await paths.route(conn, member)
    reached = await _reached(conn, route, totals, settings)
    distances = set(range(1, min(len(settings.referral_ratios), tp.length(route)) + 1))
    if settings.team_tiers:
        distances |= {int(a.member) for a in dr.team_awards(settings, tp.lookup(route, reached, str))}
    at = await paths.members_at(conn, [tp.place_at(route, d) for d in distances])

    def name(distance: int) -> str:
        return at[tp.place_at(route, distance)]

    referrers = [name(d) for d in sorted(distances) if d <= len(settings.referral_ratios)]
    return Chain(referrers, tp.lookup(route, reached, name) if settings.team_tiers else None, tp.route_slots(route))


async def _reached(conn: Connection, route: Sequence[tp.Segment], totals: dict[str, int], settings: dr.DistributionSettings) -> list[int | None]:
    """For each team tier, the distance of the first ancestor whose team reaches it (None: nobody's)."""
    thresholds = [to_fen(t.performance) for t in settings.team_tiers]
    segments = [tp.segment_reaching(route, totals, x) for x in thresholds]
    found = iter(await paths.deepest(conn, [(route[i].path, x) for i, x in zip(segments, thresholds, strict=True) if i is not None]))
    return [None if i is None else tp.distance_of(route, i, next(found)) for i in segments]


async def settle_distribution(batch: Batch) -> None:
    settings: dr.DistributionSettings = await load_settings(dr.MODEL, batch.conn)
    ids = sorted({str(i.payload["order"]) for i in batch.items if "order" in i.payload})
    orders = await store.order_rows(batch.conn, ids)
    lines = await line_amounts(batch.conn, ids)
    await paths.lock_members(batch.conn, sorted({o.member for o in orders.values()}))
    for item in batch.items:
        try:
            if item.type == SHAREHOLDER_DIVIDEND:
                await _dividend(batch, settings, item)
                continue
            order = orders.get(str(item.payload.get("order")))
            if order is None:
                continue
            if item.type == "order.completed":
                await _completed(batch, settings, item, order, settings.order_amount(lines.get(order.id, ())))
            elif item.type == "order.refunded" and item.payload.get("line") is None:
                await _refunded(batch, item, order)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"


async def _completed(batch: Batch, settings: dr.DistributionSettings, item: Item, order: store.OrderRow, amount: Decimal) -> None:
    if await store.settled_orders(batch.conn, [order.id]):
        return  # settled once (a duplicate completion pays nothing)
    rewards: list[dr.Reward] = []
    slots: list[tuple[str, int]] = []
    if amount > 0:
        chain = await team_chain(batch.conn, order.member, settings)
        facts = dr.OrderFacts(
            order.id, amount, referrers=chain.referrers, team=chain.team,
            recruiter=order.recruiter if order.channel in REWARDED_CHANNELS else None,
            agents=await store.agents_for(batch.conn, order.region),
        )
        rewards = dr.order_rewards(settings, facts)
        batch.post(dr.reward_postings(order.id, rewards), item)
        await store.save_rewards(batch.conn, order.id, rewards, item.occurred_at)
        slots = chain.slots
    await store.record_order(batch.conn, order.id, order.member, amount, item.occurred_at)
    await paths.add(batch.conn, slots, to_fen(amount))  # after its rewards: the order joins its ancestors' team (DR-2)


async def _refunded(batch: Batch, item: Item, order: store.OrderRow) -> None:
    """DR-8: each reward back from the recipient's cash up to what is there, the rest a receivable."""
    if (await store.settled_orders(batch.conn, [order.id])).get(order.id) != "OPEN":
        return
    for reward in await store.unreversed_rewards(batch.conn, order.id):
        cash = await batch.balance(member_account(reward.member, Wallet.CASH), Asset.CNY)
        batch.post(dr.reversal_postings(order.id, reward, cash), item)
    await store.mark_reversed(batch.conn, order.id)
    await store.refund_order(batch.conn, order.id)
    route, _ = await paths.route(batch.conn, order.member)
    await paths.add(batch.conn, tp.route_slots(route), -await store.settled_fen(batch.conn, order.id))  # DR-8, PD-10: out of the team again


async def _dividend(batch: Batch, settings: dr.DistributionSettings, item: Item) -> None:
    """DR-6 for one period: the turnover since the last run plus what it kept, split by weight."""
    period = str(item.payload["period"])
    if await jobs.run_state(batch.conn, SHAREHOLDER_DIVIDEND, period) is not None:
        return  # this period already ran
    await jobs.record_run(batch.conn, SHAREHOLDER_DIVIDEND, period)
    carried = await batch.balance(dr.SHAREHOLDER_POOL, Asset.CNY)
    dividend = dr.shareholder_dividend(settings, await store.open_turnover(batch.conn), carried, await store.shareholders(batch.conn))
    batch.post(dr.dividend_postings(period, dividend), item)
    await store.save_rewards(batch.conn, f"shareholder:{period}", dividend.shares, item.occurred_at)
    await store.close_period(batch.conn, period)
