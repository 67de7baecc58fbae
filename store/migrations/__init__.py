"""The schema's migrations (ADR 0004), and what several of them share (a released migration's
effect never changes: what is here stays as it is)."""


def on_postgres(sql):
    """A RunPython function that runs `sql` on PostgreSQL only (SQLite and MySQL / MariaDB update a
    row in place: storage options such as a fillfactor are PostgreSQL's)."""

    async def run(apps, schema_editor):
        client = schema_editor.client
        if str(client.capabilities.dialect) == "postgres":
            await client.execute_script(sql)

    return run
