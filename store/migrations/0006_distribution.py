from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('rebate', '0005_wallets')]

    initial = False

    operations = [
        ops.AddField(model_name='Store', name='region', field=fields.CharField(null=True, max_length=128)),
        ops.AddField(model_name='Order', name='region', field=fields.CharField(null=True, max_length=128)),
        ops.CreateModel(
            name='DistributionAgent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('level', fields.CharField(max_length=16)),
                ('region', fields.CharField(max_length=128)),
                ('member_id', fields.CharField(max_length=64, db_index=True)),
            ],
            options={'table': 'distribution_agent', 'app': 'rebate', 'unique_together': (('level', 'region'),), 'pk_attr': 'id', 'table_description': 'A regional agent (DR-5).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DistributionShareholder',
            fields=[
                ('member_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('weight', fields.CharField(max_length=24)),
            ],
            options={'table': 'distribution_shareholder', 'app': 'rebate', 'pk_attr': 'member_id', 'table_description': 'A shareholder and its weight (DR-6).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DistributionOrder',
            fields=[
                ('order_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('member_id', fields.CharField(max_length=64, db_index=True)),
                ('amount_fen', fields.BigIntField()),
                ('status', fields.CharField(default='OPEN', max_length=12)),
                ('period', fields.CharField(null=True, max_length=16)),
                ('completed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'distribution_order', 'app': 'rebate', 'pk_attr': 'order_id', 'table_description': 'A completed order the distribution model settled (DR-6, DR-8).'},
            bases=['Model'],
        ),
        ops.AddIndex(model_name='DistributionOrder', index=Index(fields=['period', 'status'])),
        ops.CreateModel(
            name='DistributionReward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(max_length=96)),
                ('member_id', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('amount_fen', fields.BigIntField()),
                ('reversed', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'distribution_reward', 'app': 'rebate', 'unique_together': (('source', 'member_id', 'kind'),), 'pk_attr': 'id', 'table_description': 'One distribution reward paid (DR-1..DR-6).'},
            bases=['Model'],
        ),
        ops.AddIndex(model_name='DistributionReward', index=Index(fields=['member_id', 'created_at'])),
    ]
