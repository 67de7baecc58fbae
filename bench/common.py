"""What the benchmark scripts share: a fresh, migrated database."""

from __future__ import annotations

from services.runtime import close_db, init_db


async def fresh_database(url: str) -> None:
    """Drop everything in the PostgreSQL database at `url` (or use a new SQLite file) and migrate."""
    await close_db()
    if url.startswith("postgres"):
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        await conn.close()
    await init_db(url, migrate=True)
