# Event keys per caller: a key is unique within its scope ("" the platform's, "member:<id>" a member's).
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('rebate', '0003_member_spend_day')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Event',
            name='key',
            field=fields.CharField(max_length=200),
        ),
        ops.AddField(
            model_name='Event',
            name='scope',
            field=fields.CharField(default='', max_length=72),
        ),
        ops.AddConstraint(
            model_name='Event',
            constraint=UniqueConstraint(fields=('scope', 'key'), name=None),
        ),
    ]
