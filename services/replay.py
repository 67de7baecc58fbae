"""SPEC I-6: apply a file of events, in file order, through the services and the settlement jobs.

Each settlement event is recorded exactly as the API records it and its queues are then drained
by the same batch function the arq job runs, so a scenario file exercises the real code paths.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.money import from_fen, money_str
from services import actions, appreciation, catalog, compliance, distribution_roles, intake, queries, wallet
from services import points_dividend as pd
from services import points_dividend_views as pd_views
from services.runtime import platform_zone
from services.settlement import pending_queues, settle_group

Jobs = dict[str, Callable[[datetime], Awaitable[Any]]]


async def _union_daily_settlement(now: datetime) -> None:
    await intake.record(daily_settlement_event(now), now)


def daily_settlement_event(now: datetime) -> dict[str, Any]:
    """The union queue's settlement for the platform-local day of `now` (C-9), keyed by that day."""
    day = now.astimezone(platform_zone()).date().isoformat()
    return {"type": "union_queue.daily_settlement", "key": f"union_queue.daily_settlement:{day}", "day": day}


async def _queue_rebate_reset(now: datetime) -> None:
    await actions.run_due_resets(now)


async def _shareholder_dividend(now: datetime) -> None:
    await intake.record(await distribution_roles.shareholder_dividend_event(now), now)


async def _points_daily_release(now: datetime) -> None:
    await intake.record(pd.daily_release_event(now), now)


JOBS: Jobs = {  # `run` events: "model.job" → coroutine taking the clock
    "union_queue.daily_settlement": _union_daily_settlement,
    "points_dividend.daily_release": _points_daily_release,
    "queue_rebate.reset": _queue_rebate_reset,
    "distribution.shareholder_dividend": _shareholder_dividend,
}


class ReplayError(Exception):
    def __init__(self, line: int, error: DomainError) -> None:
        super().__init__(f"line {line}: {error.code.value}: {error.message}")
        self.line, self.error = line, error


@dataclass
class Replay:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    tickets: list[intake.Ticket] = field(default_factory=list)

    async def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "clock":
            self.now = _clock(event.get("now"))
        elif kind == "settings":
            await settle_all()
            await catalog.set_settings(str(event.get("model")), event.get("values") or {}, self.now)
        elif kind in _CATALOG:
            await settle_all()  # what came before settles under the settings it was reported under
            await _CATALOG[kind](event)
        elif kind == "run":
            await settle_all()
            job = JOBS.get(str(event.get("job")))
            if job is None:
                raise DomainError(ErrorCode.INVALID_INPUT, f"unknown job {event.get('job')!r}; one of {', '.join(sorted(JOBS))}", "job")
            await job(self.now)
            await settle_all()
        elif kind in wallet.EVENTS:  # M-6 withdrawals and transfers: settled at once, after what came before
            await settle_all()
            await wallet.apply_event(event, self.now)
        elif kind == pd.ADJUST:
            self.tickets.append(await pd.record_adjustment(event, self.now))
            await settle_all()
        elif kind in appreciation.EVENTS:
            self.tickets.append(await appreciation.record(event, self.now))
            await settle_all()
        elif kind in actions.ACTIONS:
            self.tickets.append(await actions.record_action(event, self.now))
            await settle_all()
        elif isinstance(kind, str):
            self.tickets.append(await intake.record(event, self.now))
            await settle_all()
        else:
            raise DomainError(ErrorCode.INVALID_INPUT, "every event needs a type", "type")

    async def run(self, lines: Iterable[str]) -> None:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                event = json.loads(text)
                if not isinstance(event, dict):
                    raise DomainError(ErrorCode.INVALID_INPUT, "an event must be a JSON object")
                await self.apply(event)
            except json.JSONDecodeError as exc:
                raise ReplayError(number, DomainError(ErrorCode.INVALID_INPUT, f"not JSON: {exc.msg}")) from None
            except DomainError as exc:
                raise ReplayError(number, exc) from None
        await settle_all()


def _clock(text: Any) -> datetime:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"now must be an ISO date-time: {text!r}", "now") from None
    if when.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "now needs a UTC offset", "now")
    return when.astimezone(UTC)


GROUP = 16


async def settle_all() -> int:
    """Run every queue's pending work to the end (what a burst worker does), the queues' batches
    settled together, GROUP queues a transaction (`settle_group`)."""
    settled = 0
    while queues := sorted(await pending_queues()):
        progressed = 0
        for start in range(0, len(queues), GROUP):
            progressed += sum(done.count for done in (await settle_group(queues[start:start + GROUP])).values())
        if progressed == 0:
            raise RuntimeError(f"queues {queues} have pending items that do not settle")
        settled += progressed
    return settled


def _opt(event: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: event[n] for n in names if n in event}


_CATALOG: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
    "queue_rebate.bulk_enable": lambda e: catalog.bulk_enable_products(e.get("enabled", True)),  # QR-19 一键启用
    "member": lambda e: catalog.upsert_member(e.get("id"), **_opt(e, "referrer", "level", "phone", "nickname", "avatar")),  # type: ignore[arg-type]
    "store": lambda e: catalog.upsert_store(e.get("id"), **_opt(e, "recruiter", "name", "queue_rebate", "region")),  # type: ignore[arg-type]
    "cashier": lambda e: catalog.upsert_cashier(e.get("id"), e.get("store"), **_opt(e, "queue_rebate")),  # type: ignore[arg-type]
    "product": lambda e: catalog.upsert_product(e.get("id"), e.get("source"), **_opt(e, "store", "listed", "queue_rebate")),  # type: ignore[arg-type]
    "agent": lambda e: distribution_roles.assign_agent(e.get("member"), e.get("level"), e.get("region")),  # type: ignore[arg-type]  # DR-5
    "shareholder": lambda e: distribution_roles.set_shareholder(e.get("member"), e.get("weight")),  # type: ignore[arg-type]  # DR-6
}


async def state() -> dict[str, Any]:
    """The `replay --json` object: members' wallets, entitlements, pools and the zero-sum check."""
    ids = await queries.member_ids()
    wallets = await queries.wallets(ids)
    for member, amount in (await wallet.withdrawing(ids)).items():
        wallets[member]["withdrawing"] = amount
    audit = await _audit()
    return {
        "members": {m: {k: money_str(v) for k, v in w.items() if k != "receivable" or v != 0} for m, w in wallets.items()},
        "entitlements": [
            {"key": e.key, "member": e.member, "model": e.model, "queue": e.queue, "position": e.position,
             "total": money_str(e.total), "received": money_str(e.received), "status": e.status, **audit.get((e.model, e.key), {})}
            for e in await queries.entitlements()
        ],
        "pools": {name: money_str(v) for name, v in (await queries.pools()).items()},
        "plans": [{"key": p.key, "member": p.member, "total": money_str(p.total), "released": money_str(p.released), "status": p.status.value}
                  for p in await pd_views.plans()],
        "team": await _team(ids),
        "appreciation": await _appreciation(),
        "zero_sum": await queries.is_zero_sum(),
        "compliance": [f.as_values() for f in await compliance.report()],
    }


async def _team(ids: list[str]) -> dict[str, dict[str, Any]]:
    """I-7 `team`: member → `performance` and `tier` (points dividend) and `distribution_tier`."""
    team = await pd_views.all_teams()
    for member, tier in (await distribution_roles.team_tiers(ids)).items():
        team.setdefault(member, {"performance": "0.00", "tier": None})["distribution_tier"] = tier
    for entry in team.values():
        entry.setdefault("distribution_tier", None)
    return team


async def _appreciation() -> dict[str, str]:
    """I-7: the appreciation pool, the points in circulation and the price shown (CA-2, CA-6)."""
    view = await appreciation.pool_view()
    return {"pool": money_str(view.pool), "circulating": money_str(view.circulating), "price": money_str(view.price)}


async def _audit() -> dict[tuple[str, str], dict[str, str]]:
    """Per entitlement, what a lottery or an exchange decided (QR-12, QR-14, QR-15, C-10), only
    where something was decided: `drawn_ratio`, `drawn_at`, `exchanged_to`, `exchanged`."""
    rows = await queries.entitlement_audit()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        fields = out.setdefault((r["model"], r["key"]), {})
        if r["drawn_ratio"] is not None:
            fields["drawn_ratio"] = str(r["drawn_ratio"])
            fields["drawn_at"] = _iso(r["drawn_at"])
        if r["exchanged_to"] is not None:
            fields["exchanged_to"] = str(r["exchanged_to"])
            fields["exchanged"] = money_str(from_fen(int(r["exchanged_fen"] or 0)))
    return out


def _iso(value: Any) -> str:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
