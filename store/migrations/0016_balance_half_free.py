from tortoise import migrations
from tortoise.migrations import operations as ops

from store.migrations import on_postgres

# PostgreSQL: half of each page of `balance` free (0013 kept 30 %). A union queue daily settlement moves the balances
# of a chunk's 5 000 members in one transaction, where the versions it replaces are not dead yet and cannot be pruned
# to make room, and the members whose balances share a page (accounts first moved at about the same time) can be paid
# in the same chunk. With 30 % free a page holds a new version of under half of its rows: the others went to
# another page with an entry in both of the table's indexes (a run of 1 000 000: 110 000 of 400 000 moves). With half
# free every row of the page fits (as `entitlement`, 0014). Pages written from now on keep the room; pages already full
# get it back as their dead versions are pruned. SQLite and MySQL / MariaDB update a row in place: nothing to do.
FILLFACTOR = "ALTER TABLE balance SET (fillfactor = 50)"


class Migration(migrations.Migration):
    dependencies = [('rebate', '0015_transfer_source_index')]

    initial = False

    operations = [
        ops.RunPython(on_postgres(FILLFACTOR)),
    ]
