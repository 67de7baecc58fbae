from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('rebate', '0006_distribution')]

    initial = False

    operations = [
        ops.AddField(
            model_name='InboxItem',
            name='attempts',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='InboxItem',
            name='failed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
