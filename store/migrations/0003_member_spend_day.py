from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('rebate', '0002_model_state')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberSpendDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member_id', fields.CharField(max_length=64)),
                ('scope', fields.CharField(max_length=96)),
                ('day', fields.CharField(max_length=10)),
                ('amount_fen', fields.BigIntField(default=0)),
            ],
            options={'table': 'member_spend_day', 'app': 'rebate', 'unique_together': (('member_id', 'scope', 'day'),), 'pk_attr': 'id', 'table_description': "A member's completed spend per cumulative scope and platform-local day (QR-11)."},
            bases=['Model'],
        ),
    ]
