from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from store.migrations import on_postgres

# An entitlement's payout changes `status` and `received_fen`; while either is in an index, PostgreSQL writes every
# such update as a new row version on another page with a new entry in each of the table's indexes (the union queue's
# daily settlement: 5 000 per chunk, about half of the chunk's time). With neither indexed and room on the row's page
# the update is a HOT one: the new version on the same page, no index entry. So the queue scans go through
# (queue_id, position) and skip what no longer waits (every scan starts at or after the queue's head, before which
# nothing waits), and on PostgreSQL each page of `entitlement` keeps half of itself free: room for a new version of
# every row on it (a day's settlement pays consecutive positions, a page's rows in one transaction, where the old
# versions are not yet dead to be pruned). Pages written from now on keep the room; pages already full get it back as
# their dead versions are pruned (or at once with `VACUUM FULL entitlement`, docs/operations.md). SQLite and
# MySQL / MariaDB update a row in place: only the index changes there.
FILLFACTOR = "ALTER TABLE entitlement SET (fillfactor = 50)"


class Migration(migrations.Migration):
    dependencies = [('rebate', '0013_balance_fillfactor')]

    initial = False

    operations = [
        ops.AddIndex(model_name='Entitlement', index=Index(fields=['queue_id', 'position'])),
        ops.RemoveIndex(model_name='Entitlement', fields=['queue_id', 'status', 'position']),
        ops.RunPython(on_postgres(FILLFACTOR)),
    ]
