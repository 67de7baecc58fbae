"""太阳线 team performance on paths (ADR 0008, `domain.team_paths`): each member's path and position
on `team_node` (`path_id`, `position`, `heir_id`), and the paths' Fenwick rows `team_fenwick(path_id,
idx, fen)`. Distribution's team performance (DR-2): the orders the `dr` queue settled, unrefunded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.team_paths import SIZE, Place, Segment, joined, route_slots, sum_indices, update_indices
from store.db import Connection
from store.sql import dialect, execute, execute_many, fetch

# `? + BIG - BIG`: a bigint parameter in every dialect (PostgreSQL infers bigint, MySQL has no CAST … AS BIGINT)
_BIG = "2147483648"


async def claim_heir(conn: Connection, referrer: str, member: str) -> bool:
    """Make `member` its referrer's heir if the referrer has none; a conditional UPDATE, so two
    members joining under one referrer at once cannot both extend its path. A referrer with an heir
    is only read (its row may be held by a `dr` batch settling its order: `lock_members`)."""
    if (await fetch(conn, "SELECT heir_id FROM team_node WHERE member_id = ?", (referrer,)))[0]["heir_id"] is not None:
        return False
    return bool(await execute(conn, "UPDATE team_node SET heir_id = ? WHERE member_id = ? AND heir_id IS NULL", (member, referrer)))


async def release_heir(conn: Connection, referrer: str, member: str) -> None:
    """`member` (a leaf) leaves: its referrer's path may be extended by the next member to join."""
    await execute(conn, "UPDATE team_node SET heir_id = NULL WHERE member_id = ? AND heir_id = ?", (referrer, member))


async def save_place(conn: Connection, place: Place) -> None:
    await execute(conn, "UPDATE team_node SET path_id = ?, position = ? WHERE member_id = ?", (place.path, place.position, place.member))


async def place_of(conn: Connection, member: str, lock: bool = False) -> Place | None:
    """The member's place; `lock` holds its row (PostgreSQL, MySQL) until the transaction ends, so a
    leaf that moves and an order of it being settled do not overlap."""
    sql = "SELECT member_id, path_id, position FROM team_node WHERE member_id = ?"
    if lock and dialect(conn) != "sqlite":
        sql += " FOR UPDATE"
    rows = await fetch(conn, sql, (member,))
    if not rows or rows[0]["path_id"] is None:
        return None
    return Place(member, rows[0]["path_id"], int(rows[0]["position"]))


async def own_fen(conn: Connection, member: str) -> int:
    """The member's own spend in the paths' amounts: the orders distribution settled, unrefunded."""
    rows = await fetch(conn, "SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM distribution_order WHERE member_id = ? AND status = 'OPEN'", (member,))
    return int(rows[0]["fen"])


async def lock_members(conn: Connection, members: Sequence[str]) -> None:
    """Hold the orderers' rows of a batch (PostgreSQL, MySQL): a leaf's move waits for the batch."""
    if members and dialect(conn) != "sqlite":
        marks = ", ".join("?" for _ in members)
        await fetch(conn, f"SELECT member_id FROM team_node WHERE member_id IN ({marks}) ORDER BY member_id FOR UPDATE", sorted(members))


async def route(conn: Connection, member: str) -> tuple[list[Segment], dict[str, int]]:
    """The member's route (its ancestors as path segments, nearest first) and each of those paths'
    total (fen): one recursive query, one row per path on the way up."""
    rows = await fetch(
        conn,
        "WITH RECURSIVE up(hop, path_id, top) AS ("
        " SELECT 0, path_id, position - 1 FROM team_node WHERE member_id = ? AND path_id IS NOT NULL"
        " UNION ALL SELECT up.hop + 1, u.path_id, u.position FROM up"
        "  JOIN team_node h ON h.member_id = up.path_id JOIN team_node u ON u.member_id = h.referrer_id"
        ") SELECT up.hop, up.path_id, up.top, (SELECT f.fen FROM team_fenwick f WHERE f.path_id = up.path_id AND f.idx = ?) AS fen FROM up ORDER BY up.hop",
        (member, SIZE),
    )
    return [Segment(r["path_id"], int(r["top"])) for r in rows], {r["path_id"]: int(r["fen"] or 0) for r in rows}


async def deepest(conn: Connection, wanted: Sequence[tuple[str, int]]) -> list[int]:
    """For each (path, x): the deepest position of the path whose team reaches x fen (0: none), by
    the Fenwick descent (`domain.team_paths.deepest_reaching`) run in one recursive query: one
    index lookup per bit and wanted pair, whatever the path's length."""
    if not wanted:
        return []
    seeds = " UNION ALL ".join(f"SELECT ? + {_BIG} - {_BIG} AS k, ? AS path_id, ? + {_BIG} - {_BIG} AS x" for _ in wanted)
    params: list[Any] = [v for k, (path, x) in enumerate(wanted) for v in (k, path, x)]
    row = "COALESCE((SELECT f.fen FROM team_fenwick f WHERE f.path_id = {path} AND f.idx = {idx}), 0)"  # one index lookup
    taken = "d.acc + d.val < d.x"
    pos = f"CASE WHEN {taken} THEN d.pos + d.step ELSE d.pos END"
    rows = await fetch(
        conn,
        f"WITH RECURSIVE seed(k, path_id, x) AS ({seeds}),"
        " d(k, path_id, x, pos, acc, step, val) AS ("
        f"  SELECT k, path_id, x, 0 + {_BIG} - {_BIG}, 0 + {_BIG} - {_BIG}, ? + {_BIG} - {_BIG}, {row.format(path='seed.path_id', idx='?')} FROM seed"
        f"  UNION ALL SELECT d.k, d.path_id, d.x, {pos}, CASE WHEN {taken} THEN d.acc + d.val ELSE d.acc END, d.step >> 1,"
        f"   {row.format(path='d.path_id', idx=f'({pos}) + (d.step >> 1)')}"
        "  FROM d WHERE d.step >= 1"
        ") SELECT k, pos FROM d WHERE d.step < 1",
        [*params, SIZE, SIZE],
    )
    found = {int(r["k"]): max(SIZE - int(r["pos"]), 0) for r in rows}
    return [found[k] for k in range(len(wanted))]


async def members_at(conn: Connection, places: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The members at these (path, position)s: one query on the (path_id, position) index."""
    wanted = sorted(set(places))
    if not wanted:
        return {}
    where = " OR ".join("(path_id = ? AND position = ?)" for _ in wanted)
    rows = await fetch(conn, f"SELECT member_id, path_id, position FROM team_node WHERE {where}", [v for p in wanted for v in p])
    return {(r["path_id"], int(r["position"])): r["member_id"] for r in rows}


async def add(conn: Connection, slots: Sequence[tuple[str, int]], fen: int) -> None:
    """Add `fen` (negative: a refund) at these (path, slot)s: O(log slot) Fenwick rows per path, one statement."""
    if not fen or not slots:
        return
    rows = [(path, i, fen) for path, slot in slots for i in update_indices(slot)]  # distinct: a route has each path once
    marks = ", ".join("(?, ?, ?)" for _ in rows)
    await execute(conn, f"INSERT INTO team_fenwick (path_id, idx, fen) VALUES {marks} ON CONFLICT (path_id, idx) DO UPDATE SET fen = team_fenwick.fen + excluded.fen",
                  [v for r in rows for v in r])


async def performances(conn: Connection, members: Sequence[str]) -> dict[str, int]:
    """Each member's team performance (fen) as the paths hold it; a member without a place has 0."""
    out = {m: 0 for m in members}
    for member in members:
        place = await place_of(conn, member)
        if place is None:
            continue
        indices = sum_indices(place.position)
        marks = ", ".join("?" for _ in indices)
        rows = await fetch(conn, f"SELECT COALESCE(SUM(fen), 0) AS fen FROM team_fenwick WHERE path_id = ? AND idx IN ({marks})", [place.path, *indices])
        out[member] = int(rows[0]["fen"])
    return out


async def rebuild(conn: Connection, amounts: Sequence[tuple[str, int]]) -> None:
    """Places for every node (deepest last, by member id within a depth: the order they are assigned
    in) and the Fenwick rows of `amounts` ((member, fen) per order): the backfill of an existing tree."""
    rows = await fetch(conn, "SELECT member_id, referrer_id, depth FROM team_node ORDER BY depth, member_id")
    places: dict[str, Place] = {}
    heirs: dict[str, str] = {}
    for r in rows:
        referrer = places.get(r["referrer_id"]) if r["referrer_id"] is not None else None
        heir = referrer is not None and r["referrer_id"] not in heirs
        if heir:
            heirs[r["referrer_id"]] = r["member_id"]
        places[r["member_id"]] = joined(r["member_id"], referrer, heir)
    await execute_many(conn, "UPDATE team_node SET path_id = ?, position = ?, heir_id = ? WHERE member_id = ?",
                       [(p.path, p.position, heirs.get(m), m) for m, p in places.items()])
    parent = {r["member_id"]: r["referrer_id"] for r in rows}
    totals: dict[tuple[str, int], int] = {}
    for member, fen in amounts:
        for at in route_slots(_route(member, places, parent)) if member in places else ():
            totals[at] = totals.get(at, 0) + fen
    rows_out: dict[tuple[str, int], int] = {}
    for (path, slot), fen in totals.items():
        for i in update_indices(slot):
            rows_out[(path, i)] = rows_out.get((path, i), 0) + fen
    await execute(conn, "DELETE FROM team_fenwick")
    await execute_many(conn, "INSERT INTO team_fenwick (path_id, idx, fen) VALUES (?, ?, ?)", [(p, i, f) for (p, i), f in sorted(rows_out.items()) if f])


def _route(member: str, places: dict[str, Place], parent: dict[str, str | None]) -> list[Segment]:
    """A member's route from the places in memory (as `route` reads it from the rows)."""
    place = places[member]
    out = [Segment(place.path, place.position - 1)]
    while (up := parent.get(place.path)) is not None:
        place = places[up]
        out.append(Segment(place.path, place.position))
    return out
