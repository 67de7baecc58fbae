"""分销 agents, shareholders and the reads of the distribution model (DR-5, DR-6, I-7): assigning
regional agents and shareholder weights, a member's earnings by kind and period, ops totals, and
the shareholder dividend's event for a period (the cron, the ops mutation and `replay` record it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain import distribution as dr
from domain.distribution import is_period_key
from domain.errors import DomainError, ErrorCode
from domain.money import from_fen
from services.model_settings import load_settings
from services.runtime import platform_zone
from store import catalog as rows
from store import db
from store import distribution as store
from store import team_paths as paths

__all__ = ["agents", "assign_agent", "due_dividend_event", "earnings", "is_period_key", "set_shareholder", "shareholder_dividend_event", "shareholders", "team_tiers"]


async def assign_agent(member: str | None, level: str, region: str) -> None:
    """DR-5: `member` becomes the agent of `level` for `region` (None removes the agent)."""
    try:
        kind = dr.AgentLevel(level)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"level must be one of {', '.join(a.value for a in dr.AgentLevel)}", "level") from None
    dr.check_region(region, "region", kind)
    if member is not None and not await rows.member_exists(member):
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member} does not exist", "member")
    async with db.writing() as conn:
        await store.save_agent(conn, kind, region, member)


async def set_shareholder(member: str, weight: Any) -> Decimal:
    """DR-6: a shareholder's weight (0 removes it)."""
    value = dr.parse_weight(weight)
    if not await rows.member_exists(member):
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member} does not exist", "member")
    async with db.writing() as conn:
        await store.save_shareholder(conn, member, value)
    return value


async def agents() -> list[dict[str, Any]]:
    return await store.agents(db.default())


async def shareholders() -> dict[str, Decimal]:
    return await store.shareholders(db.default())


async def earnings(member: str | None = None, since: datetime | None = None, until: datetime | None = None) -> dict[str, Decimal]:
    """Kind → rewards paid (less those reversed) to a member, or to everyone, in [since, until)."""
    return await store.earnings(db.default(), member, since, until)


async def shareholder_dividend_event(now: datetime, period: str | None = None) -> dict[str, Any]:
    """The dividend of `period` (default: the one the platform-local day of `now` is in, C-9)."""
    settings: dr.DistributionSettings = await load_settings(dr.MODEL)
    period = period or dr.period_key(now.astimezone(platform_zone()).date(), settings.shareholder_period)
    return {"type": "distribution.shareholder_dividend", "key": f"distribution.shareholder_dividend:{period}", "period": period}


async def due_dividend_event(now: datetime) -> dict[str, Any] | None:
    """The cron's: the period that ended when the platform-local day of `now` began, if one did."""
    settings: dr.DistributionSettings = await load_settings(dr.MODEL)
    if not settings.enabled:
        return None
    period = dr.period_ended(now.astimezone(platform_zone()).date(), settings.shareholder_period)
    return None if period is None else await shareholder_dividend_event(now, period)


async def team_tiers(members: list[str]) -> dict[str, str | None]:
    """`distribution_tier` of each member (I-7): its distribution team tier name, or null."""
    settings: dr.DistributionSettings = await load_settings(dr.MODEL)
    performance = await paths.performances(db.default(), members)
    return {m: settings.team_tier_name(from_fen(performance[m])) for m in members}
