"""排队返利 features, pure (SPEC QR-10..QR-16): member-level ratios, cumulative-spend tiers, the
lottery, reward periods and limits, exchange, random return and reset.

Nothing here reads the clock or draws randomness: the shell passes the platform's local time
(C-9) and a random source (C-10) — a callable `rand(n)` returning an int in [0, n), such as
`secrets.randbelow` in production or `random.Random(seed).randrange` in tests.

Each settings type is a frozen pydantic dataclass (domain/settings.py) with a `parse_*` function
(typed DomainError with a field path on bad input, C-8) and an `as_values()` giving the JSON-able
form that parses back.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, AliasChoices, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.ledger import PLATFORM_INCOME, Asset, Posting, Wallet, member_account, platform_account
from domain.money import CENT, ZERO, apply_ratio, parse_ratio
from domain.queue_rebate import PROMISED, Entitlement, QueueState, Status, advance_head, liability_account
from domain.settings import (
    SETTINGS_CONFIG,
    Amount,
    Count,
    Flag,
    MonthDay,
    PeriodEnd,
    PositiveRatio,
    Ratio,
    TimeOfDay,
    Weekday,
    checked,
    parse_settings,
    present,
    refusal,
    validate,
)

RandomSource = Callable[[int], int]
"""`rand(n)` → an int in [0, n): `secrets.randbelow` (production) or a seeded `Random.randrange`."""

POINTS_FUNDING = platform_account("expense:points")
LOVE_VALUE_FUNDING = platform_account("expense:love_value")
COUPON_FUNDING = platform_account("expense:coupon")
LOTTERY_STEP = CENT  # RANGE lottery ratios move in 0.01 steps (QR-12)
MAX_LEVEL_NAME = 64


def _local_datetime(value: Any) -> datetime:
    """A local ISO datetime without zone (C-9), e.g. 2024-06-01T00:00."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is not None:
        raise refusal(f"must be a local ISO datetime without zone, e.g. 2024-06-01T00:00: {value!r}")
    return at


LocalDateTime = Annotated[datetime, PlainValidator(_local_datetime), WithJsonSchema({"type": "string", "format": "date-time", "description": "local, without zone"})]


def _minutes(hhmm: str) -> int:
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def _below(rand: RandomSource | int, n: int, field: str = "rand") -> int:
    """One uniform int in [0, n) from the source (or the int itself, checked)."""
    value = rand if isinstance(rand, int) else rand(n)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be an integer in [0, {n}): {value!r}", field)
    return value


# ---------------------------------------------------------------------------------------------
# QR-10: member-level ratios


def _level_ratios(value: Any) -> tuple[tuple[str, Decimal], ...]:
    """{"gold": "120", "silver": "110"}: each level a non-empty name, each ratio >= 0 (C-2)."""
    items = value.items() if isinstance(value, Mapping) else value if isinstance(value, tuple) else None
    if items is None:
        raise refusal("must be an object")
    pairs = []
    for level, ratio in items:
        if not isinstance(level, str) or not level.strip() or len(level) > MAX_LEVEL_NAME:
            raise refusal(f"has a bad level name {level!r} (1..{MAX_LEVEL_NAME} characters)")
        pairs.append((level, checked(parse_ratio, ratio, at=(level,))))
    return tuple(sorted(pairs))


LevelRatios = Annotated[
    tuple[tuple[str, Decimal], ...], PlainValidator(_level_ratios), Field(json_schema_extra={"default": {}}),
    WithJsonSchema({"type": "object", "additionalProperties": {"type": "string", "pattern": r"^\d+(\.\d{1,4})?$"}, "description": "member level → reward ratio"}),
]
"""Member level → reward ratio, as sorted (level, ratio) pairs (frozen and hashable)."""



def level_ratio(ratios: LevelRatios, level: str | None) -> Decimal | None:
    """The ratio set for `level`, or None when that level has none (the chain moves on)."""
    if level is None:
        return None
    return next((r for name, r in ratios if name == level), None)


def level_ratios_values(ratios: LevelRatios) -> dict[str, str]:
    return {name: str(r) for name, r in ratios}


# ---------------------------------------------------------------------------------------------
# QR-11: cumulative-spend tiers


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class Tier:
    """累计金额奖励: completed orders of at least `threshold` within `window_days` → `ratio`."""

    window_days: Count
    threshold: Amount
    ratio: Ratio

    def as_values(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "threshold": str(self.threshold), "ratio": str(self.ratio)}


def _tiers_in_order(tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
    """Sorted by (window_days, threshold), no repeats."""
    for i in range(1, len(tiers)):
        before, tier = (tiers[i - 1].window_days, tiers[i - 1].threshold), (tiers[i].window_days, tiers[i].threshold)
        if tier == before:
            raise refusal(f"repeats window_days {tier[0]} and threshold {tier[1]} of the tier before it", at=(i,))
        if tier < before:
            raise refusal("is out of order: tiers must be sorted by (window_days, threshold)", at=(i,))
    return tiers


Tiers = Annotated[tuple[Tier, ...], AfterValidator(_tiers_in_order)]



def cumulative_ratio(tiers: Iterable[Tier], totals: Mapping[int, Decimal]) -> Decimal | None:
    """QR-11: the largest ratio of the tiers reached (threshold ≤ the member's completed total in
    the tier's window); None when no tier is reached. A window missing from `totals` counts 0."""
    reached = [t.ratio for t in tiers if t.threshold <= totals.get(t.window_days, ZERO)]
    return max(reached) if reached else None


# ---------------------------------------------------------------------------------------------
# QR-12: lottery


class LotteryMode(str, Enum):
    FIXED = "FIXED"  # one of `ratios`, uniformly
    RANGE = "RANGE"  # min + k × 0.01, k uniform in [0, (max - min) / 0.01]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # required for RANGE, refused for FIXED


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class LotterySettings:
    """抽奖奖励权益 (QR-12): FIXED draws one of `ratios` (each > 0); RANGE a ratio in [min, max],
    0 < min ≤ max, both on a 0.01 step. Keys on the wire: mode, ratios (FIXED) or min / max (RANGE)."""

    mode: LotteryMode
    ratios: tuple[PositiveRatio, ...] = ()
    min_ratio: PositiveRatio = Field(default=ZERO, validation_alias=AliasChoices("min", "min_ratio"), json_schema_extra=_no_default)
    max_ratio: PositiveRatio = Field(default=ZERO, validation_alias=AliasChoices("max", "max_ratio"), json_schema_extra=_no_default)

    @model_validator(mode="after")
    def _complete_for_its_mode(self) -> LotterySettings:
        if self.mode is LotteryMode.FIXED:
            stray = next((key for key, v in (("min", self.min_ratio), ("max", self.max_ratio)) if v), None)
            if stray:
                raise refusal(f"is not a setting of a FIXED lottery: unknown setting(s): {stray}", at=(stray,))
            if not self.ratios:
                raise refusal("must list at least one ratio for a FIXED lottery", at=("ratios",))
            return self
        if self.ratios:
            raise refusal("is not a setting of a RANGE lottery: unknown setting(s): ratios", at=("ratios",))
        for key, ratio in (("min", self.min_ratio), ("max", self.max_ratio)):
            if not ratio:
                raise refusal("is required for a RANGE lottery", at=(key,))
        for key, ratio in (("min", self.min_ratio), ("max", self.max_ratio)):
            if ratio % LOTTERY_STEP:
                raise refusal(f"must be on a 0.01 step for a RANGE lottery: {ratio}", ErrorCode.INVALID_RATIO, at=(key,))
        if self.min_ratio > self.max_ratio:
            raise refusal(f"must not exceed max ({self.min_ratio} > {self.max_ratio})", at=("min",))
        return self

    @property
    def outcomes(self) -> int:
        """How many equally likely outcomes a draw has: `draw` asks the source for one below it."""
        if self.mode is LotteryMode.FIXED:
            return len(self.ratios)
        return int((self.max_ratio - self.min_ratio) / LOTTERY_STEP) + 1

    def outcome(self, k: int) -> Decimal:
        if self.mode is LotteryMode.FIXED:
            return self.ratios[k]
        return self.min_ratio + LOTTERY_STEP * k

    def as_values(self) -> dict[str, Any]:
        if self.mode is LotteryMode.FIXED:
            return {"mode": self.mode.value, "ratios": [str(r) for r in self.ratios]}
        return {"mode": self.mode.value, "min": str(self.min_ratio), "max": str(self.max_ratio)}


def parse_lottery(value: Any, field: str) -> LotterySettings | None:
    return None if value is None else parse_settings(LotterySettings, value, field)


def draw(settings: LotterySettings, rand: RandomSource | int) -> Decimal:
    """QR-12: one uniformly drawn ratio. `rand` is a source `rand(n)` or a ready int in [0, n)
    with n = `settings.outcomes`. Record the result on the entitlement (C-10)."""
    return settings.outcome(_below(rand, settings.outcomes))


def check_can_draw(e: Entitlement) -> None:
    """QR-12: a member draws once per entitlement, only while it is WAITING and has received nothing."""
    if e.status is not Status.WAITING:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {e.key} is {e.status.value}; only a WAITING one may draw", "entitlement")
    if e.received != 0:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {e.key} has already received {e.received}; it may no longer draw", "entitlement")
    if e.drawn_ratio is not None:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {e.key} has already drawn {e.drawn_ratio}", "entitlement")


def recompute_after_draw(e: Entitlement, ratio: Decimal, source: str, paid: Decimal | None = None, state: QueueState | None = None) -> list[Posting]:
    """QR-12: the drawn ratio replaces the entitlement's ratio; total = apply_ratio(paid, ratio).

    `paid` defaults to `e.paid`. The ENTITLEMENT liability moves by the difference. Refused with
    INVALID_ENTITLEMENT_STATE unless WAITING, nothing received and not drawn before.
    """
    check_can_draw(e)
    base = e.paid if paid is None else paid
    if base <= 0:
        raise DomainError(ErrorCode.INVALID_INPUT, f"entitlement {e.key} has no paid amount to recompute from", "paid")
    ratio = parse_ratio(ratio, "ratio")
    total = apply_ratio(base, ratio)
    if total <= 0:
        raise DomainError(ErrorCode.INVALID_RATIO, f"drawn ratio {ratio} leaves entitlement {e.key} nothing", "ratio")
    delta = total - e.total
    key = f"qr:{e.key}:lottery"
    if delta > 0:
        postings = [Posting(key, PROMISED, liability_account(e.queue), Asset.ENTITLEMENT, delta, "lottery")]
    elif delta < 0:
        postings = [Posting(key, liability_account(e.queue), PROMISED, Asset.ENTITLEMENT, -delta, "lottery")]
    else:
        postings = []
    e.total, e.ratio, e.ratio_source, e.drawn_ratio, e.paid = total, ratio, source, ratio, base
    if state is not None:
        state.touched[e.key] = e
    return postings


def draw_for_entitlement(
    e: Entitlement, settings: LotterySettings, rand: RandomSource | int, source: str | None = None,
    paid: Decimal | None = None, state: QueueState | None = None,
) -> tuple[Decimal, list[Posting]]:
    """QR-12 in one step: check the entitlement may draw (before using any randomness), draw from
    `settings` (the lottery at `source`, default `e.lottery_source`) and recompute the total."""
    check_can_draw(e)
    src = source or e.lottery_source
    if not src:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"no lottery applies to entitlement {e.key}", "entitlement")
    ratio = draw(settings, rand)
    return ratio, recompute_after_draw(e, ratio, src, paid, state)


# ---------------------------------------------------------------------------------------------
# QR-13: reward periods and limits


def _weekdays(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise refusal("must be a list")
    for j, d in enumerate(value):
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7:
            raise refusal(f"must be an ISO weekday 1 (Monday) .. 7 (Sunday): {d!r}", at=(j,))
        if d in value[:j]:
            raise refusal(f"repeats weekday {d}", at=(j,))
    return tuple(sorted(value))


Weekdays = Annotated[tuple[int, ...], PlainValidator(_weekdays), WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}, "uniqueItems": True})]


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class Period:
    """奖励时间段: local [start, end) on the listed ISO weekdays (1 = Monday; empty = every day)."""

    start: TimeOfDay
    end: PeriodEnd
    weekdays: Weekdays = ()

    @model_validator(mode="after")
    def _end_after_start(self) -> Period:
        if _minutes(self.start) >= _minutes(self.end):
            raise refusal(f"must be after start ({self.start} .. {self.end})", at=("end",))
        return self

    def contains(self, local: datetime) -> bool:
        if self.weekdays and local.isoweekday() not in self.weekdays:
            return False
        minute = local.hour * 60 + local.minute  # both bounds are whole minutes
        return _minutes(self.start) <= minute < _minutes(self.end)

    def as_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.weekdays:
            out["weekdays"] = list(self.weekdays)
        return out


def parse_periods(value: Any, field: str) -> tuple[Period, ...]:
    """A list of {start "HH:MM", end "HH:MM" (or "24:00"), weekdays [1..7]?} with start < end."""
    result: tuple[Period, ...] = () if value is None else validate(tuple[Period, ...], present(value), field)
    return result


def in_periods(periods: Iterable[Period], local: datetime) -> bool:
    """QR-13: True when no periods are set or the local time falls in one of them."""
    listed = tuple(periods)
    return not listed or any(p.contains(local) for p in listed)


@dataclass(frozen=True, slots=True)
class MemberCounts:
    """Entitlements the member has earned in one limit scope: today (local day, C-9) and ever."""

    today: int = 0
    total: int = 0


OUTSIDE_PERIOD = "OUTSIDE_PERIOD"
DAILY_LIMIT = "DAILY_LIMIT"
TOTAL_LIMIT = "TOTAL_LIMIT"
DEDUCTION_EXCLUDED = "DEDUCTION_EXCLUDED"


def limit_reason(max_per_day: int | None, max_total: int | None, counts: MemberCounts) -> str:
    """QR-13: "" when one more entitlement is within the limits, else DAILY_LIMIT / TOTAL_LIMIT."""
    if max_total is not None and counts.total >= max_total:
        return TOTAL_LIMIT
    if max_per_day is not None and counts.today >= max_per_day:
        return DAILY_LIMIT
    return ""


# ---------------------------------------------------------------------------------------------
# QR-14: exchange


class ExchangeTarget(str, Enum):
    POINTS = "POINTS"
    LOVE_VALUE = "LOVE_VALUE"
    COUPON = "COUPON"  # 购物券


class ExchangeConfig(Protocol):
    """What exchange and conversion read of the plugin settings (PluginSettings has these)."""

    @property
    def exchange_enabled(self) -> bool: ...
    @property
    def exchange_to(self) -> tuple[ExchangeTarget, ...]: ...
    @property
    def exchange_ratio(self) -> Decimal: ...
    @property
    def love_value_frozen(self) -> bool: ...


def _exchange_targets(value: Any) -> tuple[ExchangeTarget, ...]:
    """A list of distinct targets, kept in the enum's order."""
    if not isinstance(value, list | tuple):
        raise refusal("must be a list")
    targets: list[ExchangeTarget] = []
    for i, item in enumerate(value):
        try:
            target = ExchangeTarget(item)
        except ValueError:
            raise refusal(f"must be one of POINTS, LOVE_VALUE, COUPON: {item!r}", at=(i,)) from None
        if target in targets:
            raise refusal(f"repeats {target.value}", at=(i,))
        targets.append(target)
    return tuple(t for t in ExchangeTarget if t in targets)


ExchangeTargets = Annotated[
    tuple[ExchangeTarget, ...], PlainValidator(_exchange_targets),
    WithJsonSchema({"type": "array", "items": {"enum": [t.value for t in ExchangeTarget]}, "uniqueItems": True}),
]



def _mint(key: str, member: str, to: ExchangeTarget, amount: Decimal, frozen: bool, memo: str) -> list[Posting]:
    if amount <= 0:
        return []
    if to is ExchangeTarget.POINTS:
        return [Posting(key, POINTS_FUNDING, member_account(member, Wallet.POINTS), Asset.POINTS, amount, memo)]
    if to is ExchangeTarget.COUPON:
        return [Posting(key, COUPON_FUNDING, member_account(member, Wallet.COUPON), Asset.COUPON, amount, memo)]
    wallet = Wallet.LOVE_VALUE_FROZEN if frozen else Wallet.LOVE_VALUE_AVAILABLE
    return [Posting(key, LOVE_VALUE_FUNDING, member_account(member, wallet), Asset.LOVE_VALUE, amount, memo)]


def _settle_remainder(state: QueueState | None, e: Entitlement, to: ExchangeTarget, ratio: Decimal, frozen: bool, status: Status, tag: str) -> list[Posting]:
    remainder = e.remaining
    amount = apply_ratio(remainder, ratio)
    postings = [Posting(f"qr:{e.key}:{tag}", liability_account(e.queue), PROMISED, Asset.ENTITLEMENT, remainder, tag)] if remainder > 0 else []
    postings += _mint(f"qr:{e.key}:{tag}:{to.value.lower()}", e.member, to, amount, frozen, tag)
    e.status, e.exchanged_to, e.exchanged_amount = status, to.value, amount
    if state is not None:
        state.touched[e.key] = e
        advance_head(state)
    return postings


def exchange(state: QueueState | None, e: Entitlement, to: ExchangeTarget | str, settings: ExchangeConfig) -> list[Posting]:
    """QR-14: a WAITING entitlement's remainder (total - received) becomes points or love value at
    `exchange_ratio` % (100.00 at 150 → 150.00); the entitlement is EXCHANGED and leaves the queue.

    Postings: the remainder's ENTITLEMENT liability back to PROMISED, and the minted points / love
    value (available or frozen per `love_value_frozen`) from the platform's expense account.
    """
    try:
        target = ExchangeTarget(to)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"to must be one of POINTS, LOVE_VALUE, COUPON: {to!r}", "to") from None
    if not settings.exchange_enabled:
        raise DomainError(ErrorCode.INVALID_INPUT, "exchange is not enabled in the queue rebate settings", "to")
    if target not in settings.exchange_to:
        allowed = ", ".join(t.value for t in settings.exchange_to) or "nothing"
        raise DomainError(ErrorCode.INVALID_INPUT, f"exchange to {target.value} is not offered (allowed: {allowed})", "to")
    if e.status is not Status.WAITING:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {e.key} is {e.status.value}; only a WAITING one may be exchanged", "entitlement")
    return _settle_remainder(state, e, target, settings.exchange_ratio, settings.love_value_frozen, Status.EXCHANGED, "exchange")


# ---------------------------------------------------------------------------------------------
# QR-15: random return


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class RandomReturnSettings:
    """随机返: in each group of cash_count + points_count consecutive entitlements of a queue,
    points_count chosen at random are CONVERTED to points at the exchange ratio."""

    enabled: Flag = False
    cash_count: Count = 1
    points_count: Count = 1

    @property
    def group_size(self) -> int:
        return self.cash_count + self.points_count

    def as_values(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "cash_count": self.cash_count, "points_count": self.points_count}



@dataclass(frozen=True, slots=True)
class GroupDraw:
    """One random-return group of a queue (persist per queue): the counters `start` ..
    `start + size - 1` form it; `chosen` are the offsets (0 .. size-1) converted to points."""

    group_index: int
    chosen: frozenset[int]
    start: int = 0
    size: int = 0

    def covers(self, n: int) -> bool:
        return self.start <= n < self.start + self.size

    def as_values(self) -> dict[str, Any]:
        return {"group_index": self.group_index, "chosen": sorted(self.chosen), "start": self.start, "size": self.size}

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> GroupDraw:
        return cls(int(values["group_index"]), frozenset(int(i) for i in values["chosen"]), int(values["start"]), int(values["size"]))


@dataclass(frozen=True, slots=True)
class RandomReturnDecision:
    convert: bool
    group: GroupDraw
    offset: int
    new_group: bool  # True: persist `group` as the queue's current group draw


def choose(size: int, count: int, rand: RandomSource) -> frozenset[int]:
    """`count` of the offsets 0 .. size-1, every subset equally likely (partial Fisher-Yates)."""
    items = list(range(size))
    for i in range(count):
        j = i + _below(rand, size - i)
        items[i], items[j] = items[j], items[i]
    return frozenset(items[:count])


def decide_random_return(settings: RandomReturnSettings, n: int, current: GroupDraw | None, rand: RandomSource) -> RandomReturnDecision:
    """QR-15 for the queue's n-th (0-based) entitlement under random return.

    The shell keeps a per-queue counter `n` (entitlements decided so far) and the queue's current
    `GroupDraw`. When `current` covers `n` it decides; otherwise a new group of `group_size`
    starts at `n` and its chosen offsets are drawn now from `rand` (persist it: `new_group`).
    A group keeps the size it was drawn with even if the settings change meanwhile.
    """
    if not settings.enabled:
        raise DomainError(ErrorCode.INVALID_INPUT, "random return is not enabled for this line", "random_return")
    if n < 0 or (current is not None and n < current.start):
        raise DomainError(ErrorCode.INVALID_INPUT, f"random return counter went backwards: {n}", "n")
    new = current is None or not current.covers(n)
    if new:
        index = 0 if current is None else current.group_index + 1
        group = GroupDraw(index, choose(settings.group_size, settings.points_count, rand), start=n, size=settings.group_size)
    else:
        assert current is not None
        group = current
    offset = n - group.start
    return RandomReturnDecision(offset in group.chosen, group, offset, new)


def convert(state: QueueState | None, e: Entitlement, settings: ExchangeConfig) -> list[Posting]:
    """QR-15: a just-joined entitlement chosen by random return is CONVERTED: its whole total
    becomes points at the exchange ratio, it never queues. Postings as `exchange`."""
    if e.status is not Status.WAITING or e.received != 0:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {e.key} must be WAITING with nothing received to convert", "entitlement")
    return _settle_remainder(state, e, ExchangeTarget.POINTS, settings.exchange_ratio, False, Status.CONVERTED, "convert")


# ---------------------------------------------------------------------------------------------
# QR-16: reset


class ResetSchedule(str, Enum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    AT = "AT"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class ResetSettings:
    """队列奖励清零: DAILY at `time`, WEEKLY on ISO `weekday` at `time`, MONTHLY on `day` (the last
    day in shorter months) at `time`, or once AT a local datetime. Default daily 00:00."""

    enabled: Flag = False
    schedule: ResetSchedule = ResetSchedule.DAILY
    time: TimeOfDay = "00:00"
    weekday: Weekday = 1
    day: MonthDay = 1
    at: LocalDateTime | None = None

    @model_validator(mode="after")
    def _at_when_scheduled_at(self) -> ResetSettings:
        if self.schedule is ResetSchedule.AT and self.at is None:
            raise refusal("is required when schedule is AT", at=("at",))
        return self

    def as_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled, "schedule": self.schedule.value, "time": self.time, "weekday": self.weekday, "day": self.day}
        if self.at is not None:
            out["at"] = self.at.isoformat(timespec="minutes")
        return out


def parse_reset(value: Any, field: str, base: ResetSettings | None = None) -> ResetSettings:
    """The reset settings at `field`; fields left out keep `base`'s (default: off, daily 00:00)."""
    b = base or ResetSettings()
    return b if value is None else parse_settings(ResetSettings, value, field, base=b)

def due_runs(schedule: ResetSettings, last_run_local: datetime, now_local: datetime) -> list[datetime]:
    """QR-16: the scheduled local instants t with last_run_local < t ≤ now_local, oldest first.

    All naive local datetimes (C-9). The shell passes the last run it recorded (or the moment the
    reset was enabled) and runs the reset once if the list is non-empty, recording its last item.
    """
    if not schedule.enabled or now_local <= last_run_local:
        return []
    if schedule.schedule is ResetSchedule.AT:
        assert schedule.at is not None
        return [schedule.at] if last_run_local < schedule.at <= now_local else []
    hour, minute = (int(x) for x in schedule.time.split(":"))
    runs = []
    d: date = last_run_local.date()
    while d <= now_local.date():
        candidate = datetime.combine(d, time(hour, minute))
        if last_run_local < candidate <= now_local and _on_schedule(schedule, d):
            runs.append(candidate)
        d += timedelta(days=1)
    return runs


def _on_schedule(schedule: ResetSettings, d: date) -> bool:
    if schedule.schedule is ResetSchedule.WEEKLY:
        return d.isoweekday() == schedule.weekday
    if schedule.schedule is ResetSchedule.MONTHLY:
        return d.day == min(schedule.day, monthrange(d.year, d.month)[1])
    return True


def reset(entitlements: Iterable[Entitlement], state: QueueState | None = None) -> list[Posting]:
    """QR-16: every WAITING entitlement becomes CLEARED; its unpaid remainder is forfeited to
    platform income (ENTITLEMENT asset, from its queue's liability). Others are left alone."""
    postings: list[Posting] = []
    for e in entitlements:
        if e.status is not Status.WAITING:
            continue
        if e.remaining > 0:
            postings.append(Posting(f"qr:{e.key}:reset", liability_account(e.queue), PLATFORM_INCOME, Asset.ENTITLEMENT, e.remaining, "reset"))
        e.status = Status.CLEARED
        if state is not None:
            state.touched[e.key] = e
    if state is not None:
        advance_head(state)
    return postings


def unbalanced(postings: Iterable[Posting]) -> dict[Asset, Decimal]:
    """Per asset, the net of all balances the postings change (C-5: always empty)."""
    net: dict[Asset, dict[str, Decimal]] = {}
    for p in postings:
        accounts = net.setdefault(p.asset, {})
        accounts[p.source] = accounts.get(p.source, ZERO) - p.amount
        accounts[p.target] = accounts.get(p.target, ZERO) + p.amount
    sums = {asset: sum(accounts.values(), ZERO) for asset, accounts in net.items()}
    return {asset: total for asset, total in sums.items() if total != 0}
