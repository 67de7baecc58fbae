"""Events and their inbox items (C-6, C-7): what intake records and the settlement works through."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from store import db
from store.db import Connection
from store.models import Event
from store.sql import execute, execute_many, fetch

_ENCODE: Callable[[Any], str] = Event._meta.fields_map["payload"].encoder  # type: ignore[attr-defined]
INSERT_ITEM = "INSERT INTO inbox_item (queue_id, event_id, status, created_at) VALUES (?, ?, 'PENDING', CURRENT_TIMESTAMP)"


async def pending_items(conn: Connection, queue_id: str, size: int) -> list[dict[str, Any]]:
    """The queue's next `size` PENDING items in inbox order, with their event's type, payload
    (decoded) and time (aware UTC)."""
    rows = await fetch(
        conn,
        "SELECT i.id AS id, i.event_id AS event_id, e.type AS type, e.payload AS payload, e.occurred_at AS occurred_at "
        "FROM inbox_item i JOIN event e ON e.id = i.event_id WHERE i.queue_id = ? AND i.status = 'PENDING' ORDER BY i.id LIMIT ?",
        (queue_id, size),
    )
    return [{**r, "payload": _json(r["payload"]), "occurred_at": _when(r["occurred_at"])} for r in rows]


async def finish_items(conn: Connection, done: Sequence[int], failed: Mapping[int, str]) -> None:
    """Mark settled items DONE and refused ones FAILED with their error."""
    await execute_many(conn, "UPDATE inbox_item SET status = 'DONE' WHERE id = ?", [(i,) for i in done])
    await execute_many(conn, "UPDATE inbox_item SET status = 'FAILED', error = ? WHERE id = ?", [(e, i) for i, e in failed.items()])


async def pending_queues() -> list[str]:
    """Queues with items still pending (the sweeper's work list)."""
    rows = await fetch(db.default(), "SELECT DISTINCT queue_id FROM inbox_item WHERE status = 'PENDING'")
    return [r["queue_id"] for r in rows]


async def event_by_key(scope: str, key: str, conn: Connection | None = None) -> Event | None:
    """The event of this key in this key scope (another scope's same key is another event)."""
    query = Event.get_or_none(scope=scope, key=key)
    return await (query.using_db(conn) if conn is not None else query)


async def record_event(conn: Connection, scope: str, key: str, digest: str, kind: str, payload: Mapping[str, Any], occurred_at: datetime, queues: Sequence[str]) -> int:
    """One event row (its key in key `scope`) and a PENDING inbox item per queue; returns the event's id."""
    event = await Event.create(scope=scope, key=key, digest=digest, type=kind, payload=dict(payload), occurred_at=occurred_at, using_db=conn)
    for q in queues:
        await execute(conn, INSERT_ITEM, (q, event.id))
    return int(event.id)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The stored form of a payload (what the ORM's JSON field writes)."""
    return _ENCODE(dict(payload))


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
