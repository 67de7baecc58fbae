"""太阳线 the team tree kept for every member (ADR 0006, M-1, PD-4, PD-8, PD-10).

`place` sets a member's depth and jump pointer when it joins (two node reads, no ancestor
writes) and refuses re-parenting once the member has a team (REFERRER_LOCKED). Orders, refunds
and joins are delta rows; `fold` pushes pending deltas up the union of their ancestor paths in
chunks (`domain.team_tree.fold_up`), so one order never costs one write per ancestor per order.
The points dividend folds in its serialized queue before it reads tiers, so money never depends
on unfolded totals. Shared with the distribution rewards.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.team_paths import Place, joined, route_slots
from domain.team_tree import TeamDelta, TeamNode, fold_up, join
from store import team_paths as paths
from store import team_tree as rows
from store.db import Connection

FOLD_CHUNK = 50_000  # deltas per fold step: one recursive query and one UPDATE pass per chunk


async def place(conn: Connection, member: str, referrer: str | None) -> None:
    """The member's node under `referrer` (in the transaction that saves the member)."""
    found = await rows.nodes(conn, [member] + ([referrer] if referrer else []))
    current = found.get(member)
    if current is not None and current.parent == referrer:
        return
    if current is not None and await rows.has_team(conn, member):
        raise DomainError(ErrorCode.REFERRER_LOCKED, f"member {member} has a team: its referrer can no longer change", "referrer")
    parent = (found.get(referrer) or await _root(conn, referrer)) if referrer else None
    if parent is not None:
        found.update(await rows.nodes(conn, [parent.jump]))
        found.update(await rows.nodes(conn, [found[parent.jump].jump]))
    node = join(member, parent, found.__getitem__)
    spent = await _leave_path(conn, member, current.parent) if current is not None else 0
    await rows.save_node(conn, node)
    await _join_path(conn, member, referrer, spent)
    move = uuid.uuid4().hex[:12]
    own, points = await rows.own_totals(conn, member) if current is not None else (0, 0)
    deltas: list[tuple[str, str | None, str | None, str | None, int, int, int]] = []
    if current is not None and current.parent is not None:
        deltas.append((f"team:{member}:leave:{move}", None, current.parent, None, -1, -own, -points))
    if referrer is not None:
        deltas.append((f"team:{member}:join:{move}", None, referrer, None, 1, own, points))
    await rows.add_deltas(conn, deltas)


async def _root(conn: Connection, member: str) -> TeamNode:
    """A referrer stored before the tree existed becomes a root of it."""
    node = TeamNode(member, None, 0, member)
    await rows.save_node(conn, node)
    await paths.save_place(conn, Place(member, member, 1))
    return node


async def _leave_path(conn: Connection, member: str, old_referrer: str | None) -> int:
    """ADR 0008: a member that moves (a leaf) takes its own settled spend off its old route (read
    before its referrer changes) and leaves its referrer's path free; returns that spend (fen)."""
    if await paths.place_of(conn, member, lock=True) is None:
        return 0
    own = await paths.own_fen(conn, member)
    await paths.add(conn, route_slots((await paths.route(conn, member))[0]), -own)
    if old_referrer is not None:
        await paths.release_heir(conn, old_referrer, member)
    return own


async def _join_path(conn: Connection, member: str, referrer: str | None, own: int) -> None:
    """ADR 0008: the member's path and position (the referrer's heir extends the referrer's path),
    and its own settled spend (a member that moved) onto its new route."""
    above = await paths.place_of(conn, referrer) if referrer is not None else None
    heir = above is not None and referrer is not None and await paths.claim_heir(conn, referrer, member)
    await paths.save_place(conn, joined(member, above, heir))
    if own:
        await paths.add(conn, route_slots((await paths.route(conn, member))[0]), own)


async def fold(conn: Connection) -> int:
    """Fold every pending delta into the team totals; returns how many were folded."""
    folded = 0
    while deltas := await rows.pending_deltas(conn, FOLD_CHUNK):
        await _fold_chunk(conn, deltas)
        folded += len(deltas)
        if len(deltas) < FOLD_CHUNK:
            break
    return folded


async def _fold_chunk(conn: Connection, deltas: list[dict[str, Any]]) -> None:
    start: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    own: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in deltas:
        size, performance, points = int(d["size"]), int(d["performance_fen"]), int(d["points_fen"])
        if d["start_id"] is not None:
            s = start[str(d["start_id"])]
            s[0], s[1], s[2] = s[0] + size, s[1] + performance, s[2] + points
        if d["member_id"] is not None:
            o = own[str(d["member_id"])]
            o[0], o[1] = o[0] + performance, o[1] + points
    path = await rows.paths(conn, max(int(d["seq"]) for d in deltas))
    # fold_up gives each member what its descendants add; a start's own delta is added to it directly.
    zero = (0, 0, 0)
    feed = (TeamDelta(n.member, n.parent, n.depth, start[n.member][0] if n.member in start else 0,
                      Decimal(start.get(n.member, zero)[1]), Decimal(start.get(n.member, zero)[2])) for n in path)
    totals: dict[str, list[int]] = {m: list(v) for m, v in start.items()}
    for change in fold_up(feed):
        t = totals.setdefault(change.member, [0, 0, 0])
        t[0], t[1], t[2] = t[0] + change.size, t[1] + int(change.performance), t[2] + int(change.points)
    await rows.apply_fold(conn, [(m, v[0], v[1], v[2]) for m, v in sorted(totals.items()) if any(v)],
                          [(m, v[0], v[1]) for m, v in sorted(own.items()) if any(v)], [int(d["seq"]) for d in deltas])
