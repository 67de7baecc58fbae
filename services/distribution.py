"""分销 batch handler (queue `dr`): completed orders pay DR-1..DR-5, refunds reverse them (DR-8),
the shareholder dividend of a period runs as an item of the queue after what came before it (DR-6).

Idempotent: an order the model already settled is not paid again; a period's dividend runs once
(its event key, and its `job_run` row written in the same fenced transaction as the payouts).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain import distribution as dr
from domain.errors import DomainError
from domain.ledger import Asset, Wallet, member_account
from domain.level_difference import FirstAtOrAbove, scan_lookup
from services.batch import Batch, Item
from services.model_settings import load_settings
from store import distribution as store
from store import jobs
from store.db import Connection
from store.orders import line_amounts

SHAREHOLDER_DIVIDEND = "distribution.shareholder_dividend"
REWARDED_CHANNELS = ("STORE_ONLINE", "CASHIER")  # DR-4: a store's order flow


async def team_levels(conn: Connection, chain: Sequence[str], settings: dr.DistributionSettings) -> FirstAtOrAbove:
    """The level-difference lookup over an orderer's ancestors (referrer first), with their team
    tiers as they stood before the order (DR-2). Reads `store.distribution.team_performance`, a
    stand-in: the team-tree store replaces it with its jump-pointer lookup (ADR 0006)."""
    performance = await store.team_performance(conn, chain)
    return scan_lookup([(m, settings.team_level(performance[m])) for m in chain])


async def settle_distribution(batch: Batch) -> None:
    settings: dr.DistributionSettings = await load_settings(dr.MODEL, batch.conn)
    ids = sorted({str(i.payload["order"]) for i in batch.items if "order" in i.payload})
    orders = await store.order_rows(batch.conn, ids)
    lines = await line_amounts(batch.conn, ids)
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
    if amount > 0:
        chain = await store.ancestors(batch.conn, order.member, None if settings.team_tiers else len(settings.referral_ratios))
        facts = dr.OrderFacts(
            order.id, amount, referrers=chain[: len(settings.referral_ratios)],
            team=await team_levels(batch.conn, chain, settings) if settings.team_tiers else None,
            recruiter=order.recruiter if order.channel in REWARDED_CHANNELS else None,
            agents=await store.agents_for(batch.conn, order.region),
        )
        rewards = dr.order_rewards(settings, facts)
        batch.post(dr.reward_postings(order.id, rewards), item)
        await store.save_rewards(batch.conn, order.id, rewards, item.occurred_at)
    await store.record_order(batch.conn, order.id, order.member, amount, item.occurred_at)


async def _refunded(batch: Batch, item: Item, order: store.OrderRow) -> None:
    """DR-8: each reward back from the recipient's cash up to what is there, the rest a receivable."""
    if (await store.settled_orders(batch.conn, [order.id])).get(order.id) != "OPEN":
        return
    for reward in await store.unreversed_rewards(batch.conn, order.id):
        cash = await batch.balance(member_account(reward.member, Wallet.CASH), Asset.CNY)
        batch.post(dr.reversal_postings(order.id, reward, cash), item)
    await store.mark_reversed(batch.conn, order.id)
    await store.refund_order(batch.conn, order.id)


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
