# Event keys per caller: a key is unique within its scope ("" the platform's, "member:<id>" a member's).
from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint


class DropUniqueKey(ops.AlterField):
    """`event.key` no longer unique by itself. On MySQL / MariaDB the column's UNIQUE index is
    found by its columns in information_schema.STATISTICS and dropped: tortoise's own lookup of
    the constraint's name is a query MariaDB refuses."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor is None or state_editor.DIALECT != "mysql":
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        rows = await state_editor.client.execute_query_dict(
            "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'event' AND NON_UNIQUE = 0 "
            "GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = 'key'"
        )
        for row in rows:
            await state_editor.client.execute_script(f"ALTER TABLE `event` DROP INDEX `{row['INDEX_NAME']}`")


class Migration(migrations.Migration):
    dependencies = [('rebate', '0007_liveness')]

    initial = False

    operations = [
        DropUniqueKey(
            model_name='Event',
            name='key',
            field=fields.CharField(max_length=200),
        ),
        ops.AddField(
            model_name='Event',
            name='scope',
            field=fields.CharField(default='', db_default='', max_length=72),  # existing rows: the platform's
        ),
        ops.AddConstraint(
            model_name='Event',
            constraint=UniqueConstraint(fields=('scope', 'key'), name=None),
        ),
    ]
