from tortoise import migrations
from tortoise.migrations import operations as ops

from store.migrations import on_postgres

# PostgreSQL: room in each page of `balance` for the next version of its rows. A balance is updated by every transfer
# to or from its account and none of its indexed columns changes, so with room on its page the update is a HOT one: no
# new entry in the table's two indexes (a union queue daily settlement moves 5 000 member balances per chunk; on full
# pages each move wrote a row on another page and an entry in both indexes, about three times the time). Pages
# written from now on keep the room; pages already full get it back as their dead versions are pruned. SQLite and
# MySQL / MariaDB update a row in place: nothing to do.
FILLFACTOR = "ALTER TABLE balance SET (fillfactor = 70)"


class Migration(migrations.Migration):
    dependencies = [('rebate', '0012_union_queue_bulk')]

    initial = False

    operations = [
        ops.RunPython(on_postgres(FILLFACTOR)),
    ]
