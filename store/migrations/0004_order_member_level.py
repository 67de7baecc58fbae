from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('rebate', '0003_member_spend_day')]

    initial = False

    operations = [
        ops.AddField(model_name='Order', name='member_level', field=fields.CharField(max_length=64, null=True)),
        # M-2: orders recorded before the column existed take their member's level as it is now
        ops.RunSQL('UPDATE "order" SET member_level = (SELECT level FROM member WHERE member.id = "order".member_id)', reverse_sql=''),
    ]
