"""The schema's migrations (ADR 0004), and what several of them share (a released migration's
effect never changes: what is here stays as it is)."""

from tortoise.migrations import operations as ops


def on_postgres(sql):
    """A RunPython function that runs `sql` on PostgreSQL only (SQLite and MySQL / MariaDB update a
    row in place: storage options such as a fillfactor are PostgreSQL's)."""

    async def run(apps, schema_editor):
        client = schema_editor.client
        if str(client.capabilities.dialect) == "postgres":
            await client.execute_script(sql)

    return run


class DropColumnIndex(ops.AlterField):
    """A column without its own index any more: the index dropped by name (tortoise names it alike on
    every database), not by altering the column (SQLite would rebuild the table, and its triggers with it)."""

    def __init__(self, model_name, name, field, table, index):
        super().__init__(model_name, name, field)
        self.table, self.index = table, index

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None:
            return
        client = state_editor.client
        if str(client.capabilities.dialect) == "mysql":
            await client.execute_script(f"DROP INDEX `{self.index}` ON {self.table}")
        else:
            await client.execute_script(f'DROP INDEX IF EXISTS "{self.index}"')
