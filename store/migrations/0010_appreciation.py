from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class AlterWidth(ops.AlterField):
    """Widen a VARCHAR (the asset APPRECIATION_POINTS has 19 characters). SQLite does not enforce
    the length, and its table rebuild would drop the table's unique constraints: left alone there."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('rebate', '0009_points_dividend')]

    initial = False

    operations = [
        AlterWidth(
            model_name='Transfer',
            name='asset',
            field=fields.CharField(max_length=32),
        ),
        AlterWidth(
            model_name='Balance',
            name='asset',
            field=fields.CharField(max_length=32),
        ),
        ops.CreateModel(
            name='AppreciationHolder',
            fields=[
                ('member_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('points_fen', fields.BigIntField(default=0)),
                ('spend_fen', fields.BigIntField(default=0)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('participation', fields.IntField(default=0)),
                ('cost_micro', fields.BigIntField(null=True, db_index=True)),
            ],
            options={'table': 'appreciation_holder', 'app': 'rebate', 'pk_attr': 'member_id', 'table_description': "消费增值 a member's current participation (CA-4): points and spend (fen), since when, and its\ncost per point `spend / points` in millionths of a yuan, rounded down (NULL without points): the\nB-tree on it answers \"holders whose exit price ≤ P\" as a range scan."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppreciationOrder',
            fields=[
                ('order_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('member_id', fields.CharField(max_length=64)),
                ('amount_fen', fields.BigIntField()),
                ('points_fen', fields.BigIntField()),
                ('participation', fields.IntField()),
            ],
            options={'table': 'appreciation_order', 'app': 'rebate', 'pk_attr': 'order_id', 'table_description': "消费增值 what a completed order added to its member's participation, for its refund."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppreciationPrice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('cause', fields.CharField(max_length=12)),
                ('event_key', fields.CharField(max_length=200)),
                ('member_id', fields.CharField(null=True, max_length=64)),
                ('pool_fen', fields.BigIntField()),
                ('circulating_fen', fields.BigIntField()),
                ('price_fen', fields.BigIntField()),
            ],
            options={'table': 'appreciation_price', 'app': 'rebate', 'pk_attr': 'id', 'table_description': '消费增值 the price history for charts (CA-7): each change with its time, cause and event.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppreciationSale',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.BigIntField(db_index=True)),
                ('member_id', fields.CharField(db_index=True, max_length=64)),
                ('points_fen', fields.BigIntField()),
                ('price_fen', fields.BigIntField()),
                ('value_fen', fields.BigIntField()),
                ('paid_fen', fields.BigIntField()),
                ('forced', fields.BooleanField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'appreciation_sale', 'app': 'rebate', 'pk_attr': 'id', 'table_description': '消费增值 points sold (CA-3) or forced out (CA-4) by an event: the ticket\'s result.'},
            bases=['Model'],
        ),
    ]
