from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# I-5: a queue's outstanding (WAITING or ACTIVE) entitlements are counted by triggers on `entitlement`, so the liability
# report reads one row per queue instead of counting entitlements.
SQLITE_TRIGGERS = """
CREATE TRIGGER entitlement_outstanding_insert AFTER INSERT ON entitlement WHEN NEW.status IN ('WAITING', 'ACTIVE') BEGIN
  INSERT INTO liability_count (queue_id, outstanding) VALUES (NEW.queue_id, 1) ON CONFLICT (queue_id) DO UPDATE SET outstanding = outstanding + 1;
END;
CREATE TRIGGER entitlement_outstanding_update AFTER UPDATE OF status, queue_id ON entitlement
WHEN (OLD.status IN ('WAITING', 'ACTIVE')) <> (NEW.status IN ('WAITING', 'ACTIVE')) OR OLD.queue_id <> NEW.queue_id BEGIN
  UPDATE liability_count SET outstanding = outstanding - 1 WHERE queue_id = OLD.queue_id AND OLD.status IN ('WAITING', 'ACTIVE');
  INSERT INTO liability_count (queue_id, outstanding) SELECT NEW.queue_id, 1 WHERE NEW.status IN ('WAITING', 'ACTIVE') ON CONFLICT (queue_id) DO UPDATE SET outstanding = outstanding + 1;
END;
CREATE TRIGGER entitlement_outstanding_delete AFTER DELETE ON entitlement WHEN OLD.status IN ('WAITING', 'ACTIVE') BEGIN
  UPDATE liability_count SET outstanding = outstanding - 1 WHERE queue_id = OLD.queue_id;
END;
"""
POSTGRES_TRIGGERS = """
CREATE OR REPLACE FUNCTION entitlement_outstanding_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('WAITING', 'ACTIVE') THEN
    UPDATE liability_count SET outstanding = outstanding - 1 WHERE queue_id = OLD.queue_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('WAITING', 'ACTIVE') THEN
    INSERT INTO liability_count (queue_id, outstanding) VALUES (NEW.queue_id, 1)
      ON CONFLICT (queue_id) DO UPDATE SET outstanding = liability_count.outstanding + 1;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER entitlement_outstanding_count AFTER INSERT OR UPDATE OF status, queue_id OR DELETE ON entitlement
  FOR EACH ROW EXECUTE FUNCTION entitlement_outstanding_count();
"""
MYSQL_TRIGGERS = [  # one statement each (MySQL / MariaDB: no WHEN clause; a BEGIN … END body is one statement)
    """CREATE TRIGGER entitlement_outstanding_insert AFTER INSERT ON entitlement FOR EACH ROW
  INSERT INTO liability_count (queue_id, outstanding) SELECT NEW.queue_id, 1 FROM DUAL WHERE NEW.status IN ('WAITING', 'ACTIVE')
  ON DUPLICATE KEY UPDATE outstanding = outstanding + 1""",
    """CREATE TRIGGER entitlement_outstanding_update AFTER UPDATE ON entitlement FOR EACH ROW
BEGIN
  IF OLD.status IN ('WAITING', 'ACTIVE') THEN
    UPDATE liability_count SET outstanding = outstanding - 1 WHERE queue_id = OLD.queue_id;
  END IF;
  IF NEW.status IN ('WAITING', 'ACTIVE') THEN
    INSERT INTO liability_count (queue_id, outstanding) VALUES (NEW.queue_id, 1) ON DUPLICATE KEY UPDATE outstanding = outstanding + 1;
  END IF;
END""",
    """CREATE TRIGGER entitlement_outstanding_delete AFTER DELETE ON entitlement FOR EACH ROW
  UPDATE liability_count SET outstanding = outstanding - 1 WHERE queue_id = OLD.queue_id AND OLD.status IN ('WAITING', 'ACTIVE')""",
]
BACKFILL = "INSERT INTO liability_count (queue_id, outstanding) SELECT queue_id, COUNT(*) FROM entitlement WHERE status IN ('WAITING', 'ACTIVE') GROUP BY queue_id"


async def count_triggers(apps, schema_editor):
    client = schema_editor.client
    dialect = str(client.capabilities.dialect)
    if dialect == "mysql":
        for statement in MYSQL_TRIGGERS:
            await client.execute_script(statement)
    else:
        await client.execute_script(POSTGRES_TRIGGERS if dialect == "postgres" else SQLITE_TRIGGERS)
    await client.execute_script(BACKFILL)


class Migration(migrations.Migration):
    dependencies = [('rebate', '0004_order_member_level')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Withdrawal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('digest', fields.CharField(max_length=64)),
                ('member_id', fields.CharField(max_length=64)),
                ('amount_fen', fields.BigIntField()),
                ('fee_fen', fields.BigIntField(default=0)),
                ('status', fields.CharField(max_length=12)),
                ('day', fields.CharField(max_length=10)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('requested_by', fields.CharField(max_length=64)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.CharField(null=True, max_length=64)),
                ('approve_key', fields.CharField(null=True, max_length=200)),
                ('rejected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rejected_by', fields.CharField(null=True, max_length=64)),
                ('reject_key', fields.CharField(null=True, max_length=200)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_by', fields.CharField(null=True, max_length=64)),
                ('pay_key', fields.CharField(null=True, max_length=200)),
                ('reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'withdrawal', 'app': 'rebate', 'indexes': [Index(fields=['member_id', 'day']), Index(fields=['status', 'id']), Index(fields=['member_id', 'id'])], 'pk_attr': 'id', 'table_description': '提现 a cash withdrawal request (M-6) and its audit: who did each step, when, with which key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberTransfer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('digest', fields.CharField(max_length=64)),
                ('giver_id', fields.CharField(db_index=True, max_length=64)),
                ('receiver_id', fields.CharField(max_length=64)),
                ('asset', fields.CharField(max_length=16)),
                ('amount_fen', fields.BigIntField()),
                ('fee_fen', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
            ],
            options={'table': 'member_transfer', 'app': 'rebate', 'pk_attr': 'id', 'table_description': '转赠 points or love value one member gave another, with its fee.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LiabilityCount',
            fields=[
                ('queue_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=96)),
                ('outstanding', fields.BigIntField(default=0)),
            ],
            options={'table': 'liability_count', 'app': 'rebate', 'pk_attr': 'queue_id', 'table_description': "A queue's outstanding (WAITING / ACTIVE) entitlements, kept by triggers on `entitlement` (I-5: no scan per report)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=128)),
                ('asset', fields.CharField(max_length=16)),
                ('day', fields.CharField(max_length=10)),
                ('inflow_fen', fields.BigIntField(default=0)),
                ('outflow_fen', fields.BigIntField(default=0)),
                ('inflows', fields.BigIntField(default=0)),
            ],
            options={'table': 'ledger_day', 'app': 'rebate', 'unique_together': (('account', 'asset', 'day'),), 'pk_attr': 'id', 'table_description': 'Per liability / pool account and UTC day: what came in and what went out (I-5).'},
            bases=['Model'],
        ),
        ops.RunPython(count_triggers),
    ]
