"""Small builders for scenario tests: events as SPEC I-6 dicts, applied through Replay."""

from __future__ import annotations

from typing import Any

from services.replay import Replay, state

QR_DEFAULTS = {"enabled": True, "extraction_ratio": "10", "reward_ratio": "100", "surplus": "PLATFORM", "settle_on": "ON_PAY",
               "reward_rule": "QUEUE_ORDER", "mall_queue": True}


def qr_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "queue_rebate", "values": {**QR_DEFAULTS, **values}}


def member(id: str, referrer: str | None = None, level: str | None = None) -> dict[str, Any]:
    return {"type": "member", "id": id, "referrer": referrer, "level": level}


def store(id: str, **qr: Any) -> dict[str, Any]:
    return {"type": "store", "id": id, "recruiter": None, **({"queue_rebate": qr} if qr else {})}


def cashier(id: str, store: str, **qr: Any) -> dict[str, Any]:
    return {"type": "cashier", "id": id, "store": store, **({"queue_rebate": qr} if qr else {})}


def clock(now: str) -> dict[str, Any]:
    return {"type": "clock", "now": now}


def run(job: str) -> dict[str, Any]:
    return {"type": "run", "job": job}


def draw(key: str, entitlement: str, member: str | None = None) -> dict[str, Any]:
    return {"type": "entitlement.draw", "key": key, "entitlement": entitlement, **({"member": member} if member else {})}


def exchange(key: str, entitlement: str, to: str, member: str | None = None) -> dict[str, Any]:
    return {"type": "entitlement.exchange", "key": key, "entitlement": entitlement, "to": to, **({"member": member} if member else {})}


def product(id: str, source: str = "SELF_OPERATED", store: str | None = None, listed: bool = True, **qr: Any) -> dict[str, Any]:
    return {"type": "product", "id": id, "source": source, "store": store, "listed": listed, "queue_rebate": {"enabled": True, **qr}}


def paid(order: str, member: str, *lines: tuple[str | None, str] | tuple[str | None, str, str], channel: str = "MALL",
         store: str | None = None, cashier: str | None = None, profit: str | None = None) -> dict[str, Any]:
    return {
        "type": "order.paid", "key": f"{order}:paid", "order": order, "member": member, "channel": channel, "store": store,
        "cashier": cashier, "profit": profit,
        "lines": [{"product": ln[0], "quantity": 1, "paid": ln[1], "deduction": ln[2] if len(ln) > 2 else "0.00"} for ln in lines],
    }


def completed(order: str) -> dict[str, Any]:
    return {"type": "order.completed", "key": f"{order}:completed", "order": order}


def refunded(order: str, line: int | None = None) -> dict[str, Any]:
    suffix = "" if line is None else f":{line}"
    return {"type": "order.refunded", "key": f"{order}:refunded{suffix}", "order": order, "line": line}


async def play(*events: dict[str, Any]) -> dict[str, Any]:
    """Apply the events in order (settling after each) and return the `replay --json` state."""
    return await play_on(Replay(), *events)


async def play_on(replay: Replay, *events: dict[str, Any]) -> dict[str, Any]:
    """As `play`, continuing one replay (its clock) across calls."""
    for e in events:
        await replay.apply(e)
    return await state()


def cash(result: dict[str, Any], member: str) -> str:
    return str(result["members"][member]["cash"])


def ent(result: dict[str, Any], key: str) -> dict[str, Any]:
    return next(e for e in result["entitlements"] if e["key"] == key)


def wallet(result: dict[str, Any], member: str, name: str) -> str:
    return str(result["members"][member][name])
