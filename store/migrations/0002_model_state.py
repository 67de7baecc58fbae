from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('rebate', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.CharField(max_length=64)),
                ('day', fields.CharField(max_length=32)),
                ('status', fields.CharField(default='RUNNING', max_length=12)),
                ('cursor', fields.BigIntField(default=0)),
                ('state', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_run', 'app': 'rebate', 'unique_together': (('job', 'day'),), 'pk_attr': 'id', 'table_description': "A scheduled job's run for one day (daily settlement, reset): resumable and run once."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Entitlement',
            name='boost_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='drawn_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='drawn_ratio',
            field=fields.CharField(null=True, max_length=24),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='exchanged_fen',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='exchanged_to',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='lottery_source',
            field=fields.CharField(default='', max_length=48),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='paid_fen',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='Entitlement',
            name='scope_key',
            field=fields.CharField(default='', max_length=96),
        ),
        ops.AddIndex(
            model_name='Entitlement',
            index=Index(fields=['member_id', 'scope_key', 'created_at']),
        ),
        ops.AddIndex(
            model_name='Entitlement',
            index=Index(fields=['queue_id', 'boost_fen']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['member_id', 'status', 'completed_at']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['member_id', 'store_id', 'status', 'completed_at']),
        ),
        ops.AddField(
            model_name='Queue',
            name='state',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
