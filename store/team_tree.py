"""太阳线 team tree persistence (ADR 0006): `team_node` (referrer, depth, jump pointer, folded team
totals) and `team_delta` (changes not yet folded). Shared by the points dividend and distribution."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.team_tree import TeamNode
from store.db import Connection
from store.sql import execute, execute_many, fetch

_IN_CHUNK = 500  # ids per IN (…) list


def _node(r: dict[str, Any]) -> TeamNode:
    return TeamNode(r["member_id"], r["referrer_id"], int(r["depth"]), r["jump_id"])


async def nodes(conn: Connection, ids: Iterable[str]) -> dict[str, TeamNode]:
    """The tree nodes of these members (missing ones left out)."""
    out: dict[str, TeamNode] = {}
    ids = sorted(set(ids))
    for i in range(0, len(ids), _IN_CHUNK):
        part = ids[i:i + _IN_CHUNK]
        marks = ", ".join("?" for _ in part)
        for r in await fetch(conn, f"SELECT member_id, referrer_id, depth, jump_id FROM team_node WHERE member_id IN ({marks})", part):
            out[r["member_id"]] = _node(r)
    return out


async def has_team(conn: Connection, member: str) -> bool:
    """Whether any member names `member` as its referrer (read in the writer's transaction)."""
    return bool(await fetch(conn, "SELECT 1 AS one FROM team_node WHERE referrer_id = ? LIMIT 1", (member,)))


async def save_node(conn: Connection, node: TeamNode) -> None:
    """Insert the node, or move it (a member without a team, ADR 0006)."""
    changed = await execute(conn, "UPDATE team_node SET referrer_id = ?, depth = ?, jump_id = ? WHERE member_id = ?",
                            (node.parent, node.depth, node.jump, node.member))
    if not changed:
        await execute(conn, "INSERT INTO team_node (member_id, referrer_id, depth, jump_id, size, performance_fen, points_fen, own_fen, own_points_fen) "
                      "VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0)", (node.member, node.parent, node.depth, node.jump))


async def save_nodes(conn: Connection, rows: Sequence[TeamNode]) -> None:
    """Bulk insert of new nodes (a benchmark's forest, an import)."""
    await execute_many(conn, "INSERT INTO team_node (member_id, referrer_id, depth, jump_id, size, performance_fen, points_fen, own_fen, own_points_fen) "
                       "VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0)", [(n.member, n.parent, n.depth, n.jump) for n in rows])


async def own_totals(conn: Connection, member: str) -> tuple[int, int]:
    """The member's own completed spend (fen, points fen), folded and pending together."""
    folded = await fetch(conn, "SELECT own_fen, own_points_fen FROM team_node WHERE member_id = ?", (member,))
    pending = await fetch(conn, "SELECT COALESCE(SUM(performance_fen), 0) AS p, COALESCE(SUM(points_fen), 0) AS q FROM team_delta "
                          "WHERE member_id = ? AND folded = FALSE", (member,))
    own = (int(folded[0]["own_fen"]), int(folded[0]["own_points_fen"])) if folded else (0, 0)
    return own[0] + int(pending[0]["p"]), own[1] + int(pending[0]["q"])


async def add_deltas(conn: Connection, rows: Sequence[tuple[str, str | None, str | None, str | None, int, int, int]]) -> None:
    """(cause_key, member_id, start_id, order_id, size, performance_fen, points_fen); a known cause is kept once."""
    await execute_many(
        conn, "INSERT INTO team_delta (cause_key, member_id, start_id, order_id, size, performance_fen, points_fen, folded) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, FALSE) ON CONFLICT (cause_key) DO NOTHING", rows,
    )


async def order_counted(conn: Connection, order: str) -> tuple[int, int]:
    """What an order's deltas added so far (performance fen, points fen): a full refund takes it back."""
    rows = await fetch(conn, "SELECT COALESCE(SUM(performance_fen), 0) AS p, COALESCE(SUM(points_fen), 0) AS q FROM team_delta WHERE order_id = ?", (order,))
    return int(rows[0]["p"]), int(rows[0]["q"])


async def pending_deltas(conn: Connection, count: int) -> list[dict[str, Any]]:
    """The oldest `count` unfolded deltas."""
    return await fetch(conn, "SELECT seq, member_id, start_id, size, performance_fen, points_fen FROM team_delta WHERE folded = FALSE ORDER BY seq LIMIT ?", (count,))


async def paths(conn: Connection, last_seq: int) -> list[TeamNode]:
    """The union of the ancestor paths of the unfolded deltas' starts up to `last_seq` (the starts
    included), deepest first: one recursive query."""
    rows = await fetch(
        conn,
        "WITH RECURSIVE up(member_id) AS (SELECT DISTINCT start_id FROM team_delta WHERE folded = FALSE AND seq <= ? AND start_id IS NOT NULL "
        "UNION SELECT t.referrer_id FROM team_node t JOIN up ON t.member_id = up.member_id WHERE t.referrer_id IS NOT NULL) "
        "SELECT n.member_id, n.referrer_id, n.depth, n.jump_id FROM team_node n JOIN up ON up.member_id = n.member_id ORDER BY n.depth DESC",
        (last_seq,),
    )
    return [_node(r) for r in rows]


async def apply_fold(conn: Connection, team: Sequence[tuple[str, int, int, int]], own: Sequence[tuple[str, int, int]], seqs: Sequence[int]) -> None:
    """Add the folded changes (member, size, performance fen, points fen), the own totals, and mark the deltas folded."""
    await execute_many(conn, "UPDATE team_node SET size = size + ?, performance_fen = performance_fen + ?, points_fen = points_fen + ? WHERE member_id = ?",
                       [(s, p, q, m) for m, s, p, q in team])
    await execute_many(conn, "UPDATE team_node SET own_fen = own_fen + ?, own_points_fen = own_points_fen + ? WHERE member_id = ?",
                       [(p, q, m) for m, p, q in own])
    await execute_many(conn, "UPDATE team_delta SET folded = TRUE WHERE seq = ?", [(s,) for s in seqs])


async def team_row(conn: Connection, member: str) -> dict[str, Any] | None:
    """One member's folded team totals (PD-8)."""
    rows = await fetch(conn, "SELECT member_id, referrer_id, depth, size, performance_fen, points_fen, own_fen FROM team_node WHERE member_id = ?", (member,))
    return rows[0] if rows else None


async def direct_referrals(conn: Connection, member: str, after: str | None, count: int) -> list[dict[str, Any]]:
    """A member's direct referrals by id, after `after` (keyset pagination)."""
    return await fetch(
        conn, "SELECT member_id, referrer_id, depth, size, performance_fen, points_fen, own_fen FROM team_node WHERE referrer_id = ? AND member_id > ? "
        "ORDER BY member_id LIMIT ?", (member, after or "", count),
    )


async def largest_teams(conn: Connection, count: int) -> list[dict[str, Any]]:
    return await fetch(conn, "SELECT member_id, referrer_id, depth, size, performance_fen, points_fen, own_fen FROM team_node ORDER BY size DESC, member_id LIMIT ?", (count,))


async def performances(conn: Connection) -> list[int]:
    """Every member's team performance (fen): the tier counts of the ops view."""
    return [int(r["performance_fen"]) for r in await fetch(conn, "SELECT performance_fen FROM team_node WHERE performance_fen > 0")]


async def layer_after(conn: Connection, cursor: tuple[int, str] | None, count: int) -> list[dict[str, Any]]:
    """The next `count` members in the daily release's order (depth, then id, both descending) after `cursor`."""
    columns = "SELECT member_id, referrer_id, depth, performance_fen FROM team_node"
    if cursor is None:
        return await fetch(conn, f"{columns} ORDER BY depth DESC, member_id DESC LIMIT ?", (count,))
    return await fetch(conn, f"{columns} WHERE (depth, member_id) < (?, ?) ORDER BY depth DESC, member_id DESC LIMIT ?", (*cursor, count))


async def all_performances(conn: Connection) -> list[dict[str, Any]]:
    """member_id and performance_fen of every member, by id."""
    return await fetch(conn, "SELECT member_id, performance_fen FROM team_node ORDER BY member_id")
