# Team performance on paths (ADR 0008): each member's path, position and heir on team_node, the
# paths' Fenwick rows, and the backfill of both from the tree and the orders distribution settled.
from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


async def backfill(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    from store.team_paths import rebuild

    conn = schema_editor.client
    rows = await conn.execute_query_dict("SELECT member_id, amount_fen FROM distribution_order WHERE status = 'OPEN'")
    await rebuild(conn, [(r["member_id"], int(r["amount_fen"])) for r in rows])


class Migration(migrations.Migration):
    dependencies = [('rebate', '0010_appreciation')]

    initial = False

    operations = [
        ops.AddField(model_name='TeamNode', name='path_id', field=fields.CharField(null=True, max_length=64)),
        ops.AddField(model_name='TeamNode', name='position', field=fields.BigIntField(default=0, db_default=0)),
        ops.AddField(model_name='TeamNode', name='heir_id', field=fields.CharField(null=True, max_length=64)),
        ops.AddIndex(model_name='TeamNode', index=Index(fields=['path_id', 'position'])),
        ops.CreateModel(
            name='TeamFenwick',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('path_id', fields.CharField(max_length=64)),
                ('idx', fields.BigIntField()),
                ('fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'team_fenwick', 'app': 'rebate', 'unique_together': (('path_id', 'idx'),), 'pk_attr': 'id',
                     'table_description': "One Fenwick row of a path's team amounts (ADR 0008): the sum of the amounts of a block of slots."},
            bases=['Model'],
        ),
        ops.RunPython(backfill),
    ]
