from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('rebate', '0008_event_scope')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PdPlan',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('member_id', fields.CharField(max_length=64)),
                ('position', fields.BigIntField()),
                ('amount_fen', fields.BigIntField()),
                ('tier', fields.CharField(max_length=64)),
                ('total_fen', fields.BigIntField()),
                ('daily_fen', fields.BigIntField()),
                ('released_fen', fields.BigIntField(default=0)),
                ('status', fields.CharField(default='ACTIVE', max_length=12)),
                ('last_day', fields.CharField(null=True, max_length=10)),
                ('last_static_fen', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pd_plan', 'app': 'rebate', 'indexes': [Index(fields=['member_id', 'position']), Index(fields=['status', 'member_id'])], 'pk_attr': 'id', 'table_description': '积分释放计划: one release plan per qualifying completed order (PD-1, PD-2, PD-10).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamNode',
            fields=[
                ('member_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('referrer_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('depth', fields.IntField(default=0)),
                ('jump_id', fields.CharField(max_length=64)),
                ('size', fields.BigIntField(default=0)),
                ('performance_fen', fields.BigIntField(default=0)),
                ('points_fen', fields.BigIntField(default=0)),
                ('own_fen', fields.BigIntField(default=0)),
                ('own_points_fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'team_node', 'app': 'rebate', 'indexes': [Index(fields=['depth', 'member_id']), Index(fields=['size'])], 'pk_attr': 'member_id', 'table_description': "太阳线 a member's place in the team tree and its folded team totals (ADR 0006, PD-4, PD-8)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamDelta',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('cause_key', fields.CharField(unique=True, max_length=160)),
                ('member_id', fields.CharField(null=True, max_length=64)),
                ('start_id', fields.CharField(null=True, max_length=64)),
                ('order_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('size', fields.BigIntField(default=0)),
                ('performance_fen', fields.BigIntField(default=0)),
                ('points_fen', fields.BigIntField(default=0)),
                ('folded', fields.BooleanField(default=False)),
            ],
            options={'table': 'team_delta', 'app': 'rebate', 'indexes': [Index(fields=['folded', 'seq'])], 'pk_attr': 'seq', 'table_description': "A change of team totals not yet folded (ADR 0006)."},
            bases=['Model'],
        ),
    ]
