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


def _members_with_wallets(wallets: DataLoader[str, dict[str, Decimal]]) -> Callable[[list[str]], Any]:
    async def load(ids: list[str]) -> list[Any]:
        """Members and their wallets in one statement; the wallets go to the wallets loader."""
        found, balances = await queries.members_with_wallets(list(dict.fromkeys(ids)))
        for member, values in balances.items():
            wallets.prime(member, values)
        return [found.get(i) for i in ids]

    return load


@dataclass(slots=True)
class Loaders:
    """Built per request (per connection, uncached, for WebSockets), never module globals."""

    wallets: DataLoader[str, dict[str, Decimal]]
    members: DataLoader[str, Any]
    tickets: DataLoader[int, dict[str, Any] | None]
    members_with_wallets: DataLoader[str, Any]  # a member whose wallets are asked for too

    @classmethod
    def create(cls, cache: bool = True) -> Loaders:
        wallets = DataLoader(_load_wallets, cache=cache)
        return cls(wallets, DataLoader(_load_members, cache=cache), DataLoader(_load_tickets, cache=cache),
                   DataLoader(_members_with_wallets(wallets), cache=cache))


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
    connection_params: dict[str, Any] | None = field(default=None)
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """The request's DataLoaders, built at the first read that needs one (a payment callback never does)."""
        if self._loaders is None:
            self._loaders = Loaders.create(cache=self.cache)
        return self._loaders


Info = strawberry.Info[Context, None]
