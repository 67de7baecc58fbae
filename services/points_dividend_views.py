"""积分分红 read models (PD-1, PD-8, PD-9, I-7): plans, a day's release breakdown, team views and
the ops views. Team figures are the folded totals (ADR 0006): no query walks the tree."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain import points_dividend as pd
from domain.money import ZERO, from_fen
from domain.points_dividend_settings import PointsDividendSettings
from services.model_settings import load_settings
from services.points_dividend import DAILY_RELEASE
from store import db, jobs
from store import points_dividend as store
from store import team_tree as tree


@dataclass(frozen=True, slots=True)
class TeamView:
    """PD-8: a member's team (its descendants), folded; `points` of the performance was paid with points."""

    member: str
    referrer: str | None
    depth: int
    size: int
    performance: Decimal
    points: Decimal
    cash: Decimal
    own: Decimal
    tier: str | None


@dataclass(frozen=True, slots=True)
class DayRelease:
    """PD-9: what one day released to one member, per kind (share, team, same-level paid after the cap)."""

    member: str
    day: str
    static: Decimal
    share: Decimal
    team: Decimal
    same_level: Decimal

    @property
    def total(self) -> Decimal:
        return self.static + self.share + self.team + self.same_level


async def plans(member: str | None = None) -> list[pd.Plan]:
    conn = db.default()
    return await store.plans_of(conn, member) if member is not None else await store.all_plans(conn)


def _view(r: dict[str, Any], settings: PointsDividendSettings) -> TeamView:
    performance, points = from_fen(int(r["performance_fen"])), from_fen(int(r["points_fen"]))
    tier = settings.team_tier(performance)
    return TeamView(r["member_id"], r["referrer_id"], int(r["depth"]), int(r["size"]), performance, points, performance - points,
                    from_fen(int(r["own_fen"])), tier.name if tier else None)


async def team(member: str) -> TeamView | None:
    settings: PointsDividendSettings = await load_settings(pd.MODEL)
    row = await tree.team_row(db.default(), member)
    return _view(row, settings) if row is not None else None


async def direct_referrals(member: str, after: str | None, first: int) -> list[TeamView]:
    settings: PointsDividendSettings = await load_settings(pd.MODEL)
    return [_view(r, settings) for r in await tree.direct_referrals(db.default(), member, after, first)]


async def largest_teams(first: int) -> list[TeamView]:
    settings: PointsDividendSettings = await load_settings(pd.MODEL)
    return [_view(r, settings) for r in await tree.largest_teams(db.default(), first)]


async def tier_counts() -> dict[str, int]:
    """How many members stand in each team tier (PD-4), from the folded performance."""
    settings: PointsDividendSettings = await load_settings(pd.MODEL)
    counts = Counter(t.name for fen in await tree.performances(db.default()) if (t := settings.team_tier(from_fen(fen))) is not None)
    return {t.name: counts.get(t.name, 0) for t in settings.team_tiers}


async def all_teams() -> dict[str, dict[str, Any]]:
    """The replay's `team`: member → performance and tier (I-7)."""
    settings: PointsDividendSettings = await load_settings(pd.MODEL)
    rows = await tree.all_performances(db.default())
    out = {}
    for r in rows:
        performance = from_fen(int(r["performance_fen"]))
        tier = settings.team_tier(performance)
        out[r["member_id"]] = {"performance": str(performance), "tier": tier.name if tier else None}
    return out


async def day_totals(day: str) -> dict[str, Any] | None:
    """The ops view of a day's release: members streamed, static, share, team and same-level totals, done."""
    state = await jobs.run_state(db.default(), DAILY_RELEASE, day)
    if state is None:
        return None
    return {"members": int(state["members"]), "done": bool(state["done"]),
            **{k: from_fen(int(state[f"{k}_fen"])) for k in ("static", "share", "team", "same_level")}}


async def day_release(member: str, day: str) -> DayRelease:
    """A member's release of `day`, from the ledger (the transfer keys carry the day and kind)."""
    account = f"member:{member}:POINTS"
    rows = await store.day_transfers(db.default(), account, day)
    sums = {"static": ZERO, "share": ZERO, "team": ZERO, "same_level": ZERO}
    for r in rows:
        kind = str(r["key"]).split(":")[2]
        if kind in sums:
            sums[kind] += from_fen(int(r["amount_fen"]))
    return DayRelease(member, day, sums["static"], sums["share"], sums["team"], sums["same_level"])
