"""Queries and mutations of the queue rebate area: entitlements, queue progress with the QR-18
display settings, the plugin settings, member actions (QR-12 draw, QR-14 exchange) and the
QR-16 reset run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import strawberry

from api.auth import Principal, Role
from api.context import Info
from api.errors import coded, user_error
from api.orders.resolvers import _enqueue
from api.orders.types import Ticket
from api.pagination import Connection, int_cursor, page, page_size, row_number
from api.permissions import CanReadEntitlements, CanReadQueueProgress, IsAdmin, IsAuthenticated, IsStaff, IsStaffOrMember, IsStaffOrMerchant
from api.queue_rebate.settings import QueueRebateSettings
from api.queue_rebate.types import (
    DrawLotteryInput,
    Entitlement,
    EntitlementActionPayload,
    ExchangeEntitlementInput,
    Pool,
    Queue,
    QueueOverview,
    QueueProgress,
    QueueProgressEntry,
    QueueRebateResetsPayload,
)
from domain.errors import DomainError, ErrorCode
from domain.queue_rebate_settings import PluginSettings
from services import actions, intake, queries
from services.queries import EntitlementView

MODEL = "queue_rebate"


def _queue_cursor(after: str | None) -> tuple[str, int]:
    """`<queue>@<position>`: the cursor of a listing that spans queues."""
    if after is None:
        return ("", 0)
    queue, sep, position = after.rpartition("@")
    number = row_number(position) if sep else None
    if number is None:
        raise coded(ErrorCode.INVALID_INPUT, "after is not a cursor of this list")
    return (queue, number)


async def _with_decisions(rows: Sequence[EntitlementView]) -> list[Entitlement]:
    """Entitlements with what their lottery / exchange decided (one query per page)."""
    decided = await queries.entitlement_decisions([(e.model, e.key) for e in rows])
    return [Entitlement.of(e, decided.get((e.model, e.key))) for e in rows]


async def _across_queues(member: str, status: str | None, after: str | None, size: int) -> Connection[Entitlement]:
    """A member's entitlements over every queue, keyset-paged on (queue, position)."""
    queue, position = _queue_cursor(after)
    rows = await queries.entitlements(member=member, status=status, after_queue=queue, after_position=position, limit=size + 1)
    return page(await _with_decisions(rows), size, lambda e: f"{e.queue}@{e.position}")


async def _plugin() -> tuple[PluginSettings, int]:
    values, version = await queries.stored_settings(MODEL)
    return PluginSettings.parse(values), version


def _progress_entries(rows: Sequence[EntitlementView], caller: Principal, full: bool, plugin: PluginSettings, profiles: Mapping[str, Any]) -> list[QueueProgressEntry]:
    """QR-18: `full` callers (staff, the queue's merchant) see every field; a member sees what
    the display settings show, and its own identity on its own entries."""
    entries = []
    progress = full or plugin.show_queue_progress
    cumulative = full or plugin.show_cumulative
    amount = full or plugin.show_pending_amount
    for e in rows:
        own = caller.is_member(e.member)
        who = full or own or plugin.show_member_info
        profile = profiles.get(e.member) if who else None
        entries.append(QueueProgressEntry(
            key=e.key if full or own else None,
            own=own,
            member=strawberry.ID(e.member) if who else None,
            member_nickname=profile.nickname if profile is not None else None,
            member_avatar=profile.avatar if profile is not None else None,
            queue=e.queue if progress else None,
            position=e.position if progress else None,
            total=e.total if cumulative and amount else None,  # type: ignore[arg-type]
            received=e.received if cumulative else None,  # type: ignore[arg-type]
            remaining=e.remaining if amount else None,  # type: ignore[arg-type]
            status=e.status,
        ))
    return entries


async def _act(info: Info, payload: dict[str, Any]) -> EntitlementActionPayload:
    """Record a member action (services.actions checks it, ownership included), then enqueue its
    queue. A member's key is its own (its key scope); staff keys share the platform's."""
    member = _acting_member(info)
    scope = intake.member_scope(member) if member is not None else intake.PLATFORM_SCOPE
    try:
        ticket = await actions.record_action(payload, now=info.context.now(), scope=scope)
    except DomainError as exc:
        error = user_error(exc)
        if exc.field == "member":  # not the caller's entitlement: the input names it by `entitlement`
            error.field = "entitlement"
        return EntitlementActionPayload(ticket=None, errors=[error])
    await _enqueue(info, ticket.queues)
    return EntitlementActionPayload(ticket=Ticket.of(ticket, ticket.duplicate), errors=[])


def _acting_member(info: Info) -> str | None:
    """A member token acts as its member only; staff keys act for anyone (no ownership check)."""
    caller = info.context.principal
    return caller.subject if caller is not None and caller.role is Role.MEMBER else None


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[CanReadEntitlements],
        description="Entitlements of a member and/or a queue, in (queue, position) order. Give `queue` to page by position within it.",
    )
    async def entitlements(
        self,
        member: strawberry.ID | None = None,
        queue: str | None = None,
        status: str | None = None,
        after: str | None = None,
        first: int | None = None,
    ) -> Connection[Entitlement]:
        size = page_size(first)
        if queue is None:
            if member is None:
                raise coded(ErrorCode.INVALID_INPUT, "give a member, a queue or both")
            return await _across_queues(str(member), status, after, size)
        rows = await queries.entitlements(member=member, queue=queue, status=status, after_position=int_cursor(after), limit=size + 1)
        return page(await _with_decisions(rows), size, lambda e: str(e.position))

    @strawberry.field(
        permission_classes=[CanReadQueueProgress],
        description="A queue's WAITING entitlements in position order, from the head. Members may read queue rebate queues (qr:…) with the fields the "
        "QR-18 display settings hide set to null; staff and the queue's merchant see everything.",
    )
    async def queue_progress(self, info: Info, queue: str, after: str | None = None, first: int | None = None) -> QueueProgress | None:
        size, position = page_size(first), int_cursor(after)
        caller = info.context.principal
        assert caller is not None  # the permission class refused anonymous callers
        full = caller.is_staff or caller.owns_queue(queue)
        row = await queries.queue(queue)
        if row is None:
            return None
        if not full and row["model"] != MODEL:
            raise coded(ErrorCode.FORBIDDEN, "not allowed for this caller")
        plugin, _ = await _plugin()
        rows = await queries.entitlements(queue=queue, status="WAITING", after_position=position, limit=size + 1)
        paged = page(rows, size, lambda e: str(e.position))
        ids = list(dict.fromkeys(e.member for e in paged.items))
        profiles = dict(zip(ids, await info.context.loaders.members.load_many(ids), strict=True))
        count, pending = await queries.waiting_summary(queue)
        return QueueProgress(
            queue=Queue.of(row) if full or plugin.show_queue_progress else None,
            waiting=Connection(items=_progress_entries(paged.items, caller, full, plugin, profiles), page_info=paged.page_info),
            pending_count=count if full or plugin.show_pending_count else None,
            pending_amount=pending if full or plugin.show_pending_amount else None,  # type: ignore[arg-type]
            model_display_name=plugin.model_display_name,
            exchange_button_name=plugin.exchange_button_name,
        )

    @strawberry.field(permission_classes=[IsStaffOrMerchant], description="Every queue (a merchant sees its own store's).")
    async def queues(self, info: Info) -> list[Queue]:
        caller = info.context.principal
        rows = await queries.queues()
        return [Queue.of(r) for r in rows if caller is not None and (caller.is_staff or caller.owns_queue(r["id"]))]

    @strawberry.field(permission_classes=[IsStaffOrMerchant], description="Queues in id order, paginated (`after`: the last id seen), with what waits, "
                      "what is owed and the paused / listed states (a merchant sees its own store's).")
    async def queue_overview(self, info: Info, after: str | None = None, first: int | None = None) -> Connection[QueueOverview]:
        size, caller = page_size(first), info.context.principal
        assert caller is not None  # the permission class refused anonymous callers
        only = None if caller.is_staff else sorted(caller.merchant_queues)
        rows = await queries.queue_page(after or "", size + 1, only)
        plugin, _ = await _plugin()
        return page([QueueOverview.of(r, plugin.paused if r["model"] == MODEL else None) for r in rows], size, lambda q: q.id)

    @strawberry.field(permission_classes=[IsStaff], description="Every queue's / model's pool balance.")
    async def pools(self) -> list[Pool]:
        return [Pool(name=name, balance=balance) for name, balance in (await queries.pools()).items()]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The queue rebate's platform settings, parsed (defaults where never set), for any authenticated caller: front ends read the "
        "display names and the QR-18 display flags here.",
    )
    async def queue_rebate_settings(self) -> QueueRebateSettings:
        plugin, version = await _plugin()
        return QueueRebateSettings.of(plugin, version)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[IsStaffOrMember],
        description="QR-12 抽奖: draw the lottery of an entitlement; the queue's worker draws and recomputes its total. A member token may draw only "
        "for its own entitlements (FORBIDDEN otherwise); staff keys for any.",
    )
    async def draw_lottery(self, info: Info, input: DrawLotteryInput) -> EntitlementActionPayload:
        return await _act(info, input.payload(_acting_member(info)))

    @strawberry.mutation(
        permission_classes=[IsStaffOrMember],
        description="QR-14 兑换: exchange an entitlement's unpaid remainder to points or love value. A member token may exchange only its own "
        "entitlements (FORBIDDEN otherwise); staff keys any.",
    )
    async def exchange_entitlement(self, info: Info, input: ExchangeEntitlementInput) -> EntitlementActionPayload:
        return await _act(info, input.payload(_acting_member(info)))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="QR-16 队列奖励清零: record the latest due reset (per the reset schedule, platform time zone) for every queue with WAITING "
        "entitlements and enqueue them. Idempotent per scheduled run: nothing is due again until the next one.",
    )
    async def run_queue_rebate_resets(self, info: Info) -> QueueRebateResetsPayload:
        try:
            tickets = await actions.run_due_resets(info.context.now())
        except DomainError as exc:
            return QueueRebateResetsPayload(tickets=[], errors=[user_error(exc)])
        await _enqueue(info, list(dict.fromkeys(q for t in tickets for q in t.queues)))
        return QueueRebateResetsPayload(tickets=[Ticket.of(t, t.duplicate) for t in tickets], errors=[])
