"""会员等级 member levels (SPEC M-2): the platform's configured list of levels, each a name and a rank.

Once enabled, a member's level is one of these names (or none); the member-level ratios of the queue rebate
(QR-10) are keyed by them. The order keeps the level its member had when it was paid (M-2), so a
later change of the member's level or of this list does not change what an order earned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator, WithJsonSchema
from pydantic.dataclasses import dataclass

from domain.errors import DomainError, ErrorCode
from domain.queue_rebate_features import MAX_LEVEL_NAME
from domain.settings import SETTINGS_CONFIG, Flag, parse_settings, refusal

MODEL = "member_levels"


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LEVEL_NAME:
        raise refusal(f"must be a level name of 1..{MAX_LEVEL_NAME} characters: {value!r}")
    return value


def _rank(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise refusal(f"must be an integer >= 0: {value!r}")
    return value


LevelName = Annotated[str, PlainValidator(_name), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_LEVEL_NAME})]
Rank = Annotated[int, PlainValidator(_rank), WithJsonSchema({"type": "integer", "minimum": 0})]


@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class MemberLevel:
    """One level: its name (what a member's `level` and the ratios name) and its rank (higher is better)."""

    name: LevelName
    rank: Rank


def _unique(levels: tuple[MemberLevel, ...]) -> tuple[MemberLevel, ...]:
    names: set[str] = set()
    ranks: set[int] = set()
    for i, level in enumerate(levels):
        if level.name in names:
            raise refusal("must be a unique name", at=(i, "name"))
        if level.rank in ranks:
            raise refusal("must be a unique rank", at=(i, "rank"))
        names.add(level.name)
        ranks.add(level.rank)
    return tuple(sorted(levels, key=lambda v: v.rank))


Levels = Annotated[tuple[MemberLevel, ...], AfterValidator(_unique)]


@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class MemberLevelSettings:
    """The configured member levels (M-2), kept in rank order. Off until enabled (C-11): then a
    member's level must be one of `levels`; off, a level is any name (as before levels were
    configured), the ratios still match it by name."""

    enabled: Flag = False
    levels: Levels = ()

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: MemberLevelSettings | None = None) -> MemberLevelSettings:
        """Validate `values` over `base` (C-8); `levels` is replaced whole."""
        return parse_settings(cls, values, base=base)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    def check(self, level: str | None) -> str | None:
        """A member's level: none, or (when enabled) one of the configured names; otherwise UNKNOWN_MEMBER_LEVEL."""
        if self.enabled and level is not None and level not in self.names:
            known = ", ".join(self.names) or "none are configured"
            raise DomainError(ErrorCode.UNKNOWN_MEMBER_LEVEL, f"member level {level!r} is not a configured level ({known})", "level")
        return level

    def check_ratios(self, ratios: Iterable[tuple[str, Any]], prefix: str = "") -> None:
        """QR-10: member-level ratios (when enabled) name configured levels only; else
        UNKNOWN_MEMBER_LEVEL at `<prefix>member_level_ratios.<level>`."""
        for name, _ in ratios:
            if self.enabled and name not in self.names:
                known = ", ".join(self.names) or "none are configured"
                raise DomainError(ErrorCode.UNKNOWN_MEMBER_LEVEL, f"member level {name!r} is not a configured level ({known})", f"{prefix}member_level_ratios.{name}")

    def as_values(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "levels": [{"name": v.name, "rank": v.rank} for v in self.levels]}
