"""The per-request context: the caller, the shared clients, the clock and fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from api.auth import AuthConfig, Principal
from services import queries
from services.group_commit import GroupCommit
from services.member_reads import MemberReads


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _load_wallets(ids: list[str]) -> list[dict[str, Decimal]]:
    found = await queries.wallets(list(dict.fromkeys(ids)))
    return [found[i] for i in ids]


async def _load_members(ids: list[str]) -> list[Any]:
    found = await queries.members(list(ids))
    return [found.get(i) for i in ids]


async def _load_tickets(ids: list[int]) -> list[dict[str, Any] | None]:
    return [await queries.ticket(i) for i in ids]


@dataclass(slots=True)
class Loaders:
    """Built per request (per connection, uncached, for WebSockets), never module globals."""

    wallets: DataLoader[str, dict[str, Decimal]]
    members: DataLoader[str, Any]
    tickets: DataLoader[int, dict[str, Any] | None]
    cache: bool = True
    read_members: dict[str, tuple[Any, dict[str, Decimal]] | None] = field(default_factory=dict)  # member_with_wallets' answers in this request
    member_reads: MemberReads | None = None  # the process's coalesced member reads (None: each read alone)

    @classmethod
    def create(cls, cache: bool = True, member_reads: MemberReads | None = None) -> Loaders:
        return cls(DataLoader(_load_wallets, cache=cache), DataLoader(_load_members, cache=cache), DataLoader(_load_tickets, cache=cache), cache,
                   member_reads=member_reads)

    async def member_with_wallets(self, id: str) -> tuple[Any, dict[str, Decimal]] | None:
        """A member and its wallets, read in one statement (with the other requests' members
        asked for in the same turn of the loop, `MemberReads`); None: no such member. Asked again
        in the request (an alias), the member is not read twice."""
        if id in self.read_members:
            return self.read_members[id]
        if self.member_reads is not None:
            read = await self.member_reads.read(id)
        else:
            found, balances = await queries.members_with_wallets([id])
            row = found.get(id)
            read = (row, balances[id]) if row is not None else None
        if self.cache:
            self.read_members[id] = read
        return read


@dataclass(slots=True)
class Context:
    request: Any
    response: Any
    auth: AuthConfig
    redis: Any
    principal: Principal | None
    cache: bool = True  # the loaders cache what they loaded (not on a WebSocket: its operations live long)
    now: Callable[[], datetime] = utc_now
    intake: GroupCommit | None = None  # the process's group commit of single reports (None: off)
    member_reads: MemberReads | None = None  # the process's coalesced member reads (None: each read alone)
    connection_params: dict[str, Any] | None = field(default=None)
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """The request's DataLoaders, built at the first read that needs one (a payment callback never does)."""
        if self._loaders is None:
            self._loaders = Loaders.create(cache=self.cache, member_reads=self.member_reads)
        return self._loaders


Info = strawberry.Info[Context, None]
