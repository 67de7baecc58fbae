from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from store.migrations import DropColumnIndex

# PostgreSQL: the outstanding counts of `liability_count` (0005) are kept per statement instead of per row. A row
# trigger updates a queue's one count row once per entitlement; inside one transaction every such update leaves a new
# version of that row that the next one walks past, so a statement of n rows cost O(n²) (5 000 entitlements paid in
# one chunk of the union queue's daily settlement: ~0.8 s). A statement trigger reads the statement's transition
# tables and moves each queue's count once. Transition tables take no column list and one event per trigger: three
# triggers, and the update one fires on every UPDATE of the table (an UPDATE that leaves the status alone moves
# nothing). SQLite and MySQL / MariaDB update a row in place: their row triggers stay.
POSTGRES_TRIGGERS = """
DROP TRIGGER IF EXISTS entitlement_outstanding_count ON entitlement;
DROP FUNCTION IF EXISTS entitlement_outstanding_count();
CREATE OR REPLACE FUNCTION entitlement_outstanding_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO liability_count (queue_id, outstanding)
      SELECT queue_id, COUNT(*) FROM new_rows WHERE status IN ('WAITING', 'ACTIVE') GROUP BY queue_id
      ON CONFLICT (queue_id) DO UPDATE SET outstanding = liability_count.outstanding + excluded.outstanding;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE liability_count c SET outstanding = c.outstanding - d.n
      FROM (SELECT queue_id, COUNT(*) AS n FROM old_rows WHERE status IN ('WAITING', 'ACTIVE') GROUP BY queue_id) d
      WHERE c.queue_id = d.queue_id;
  ELSE
    INSERT INTO liability_count (queue_id, outstanding)
      SELECT queue_id, SUM(delta) FROM (
        SELECT queue_id, -1 AS delta FROM old_rows WHERE status IN ('WAITING', 'ACTIVE')
        UNION ALL SELECT queue_id, 1 FROM new_rows WHERE status IN ('WAITING', 'ACTIVE')) moved
      GROUP BY queue_id HAVING SUM(delta) <> 0
      ON CONFLICT (queue_id) DO UPDATE SET outstanding = liability_count.outstanding + excluded.outstanding;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER entitlement_outstanding_insert AFTER INSERT ON entitlement REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION entitlement_outstanding_delta();
CREATE TRIGGER entitlement_outstanding_update AFTER UPDATE ON entitlement REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION entitlement_outstanding_delta();
CREATE TRIGGER entitlement_outstanding_delete AFTER DELETE ON entitlement REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION entitlement_outstanding_delta();
"""


async def statement_triggers(apps, schema_editor):
    client = schema_editor.client
    if str(client.capabilities.dialect) == "postgres":
        await client.execute_script(POSTGRES_TRIGGERS)


# Fewer indexes written per entitlement (an update that changes `status` writes a new entry in every index of the
# table): `member_id` alone is the first column of (member_id, scope_key, created_at), which serves the same lookups;
# (queue_id, boost_fen) found the union queue's pending boosts (UQ-4) and held every entitlement of every model, of
# which almost none has one: on PostgreSQL and SQLite a partial index of those with a boost replaces it. MySQL /
# MariaDB has no partial index: it keeps (queue_id, boost_fen), created in 0002, outside the migration state.
MEMBER_INDEX = "idx_entitlement_member__625aff"
BOOST_INDEX = "CREATE INDEX IF NOT EXISTS entitlement_boosted ON entitlement (queue_id, position) WHERE boost_fen > 0"


class RemoveIndexUnlessMySQL(ops.RemoveIndex):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and str(state_editor.client.capabilities.dialect) == "mysql":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


async def boosted_index(apps, schema_editor):
    client = schema_editor.client
    if str(client.capabilities.dialect) != "mysql":
        await client.execute_script(BOOST_INDEX)


class Migration(migrations.Migration):
    dependencies = [('rebate', '0011_team_paths')]

    initial = False

    operations = [
        ops.RunPython(statement_triggers),
        DropColumnIndex(model_name='Entitlement', name='member_id', field=fields.CharField(max_length=64), table='entitlement', index=MEMBER_INDEX),
        RemoveIndexUnlessMySQL(model_name='Entitlement', fields=['queue_id', 'boost_fen']),
        ops.RunPython(boosted_index),
    ]
