from tortoise import fields, migrations

from store.migrations import DropColumnIndex

# One index fewer written per transfer: no query finds transfers by `source`. The ledger of an account prefix
# (`store.queries.ledger`) matches `source LIKE … OR target LIKE …` in id order: on PostgreSQL a LIKE cannot use the
# column's index under a collation other than C (the plan walks the primary key or the table), and an OR of two
# columns could only use the indexes of both; the zero-sum check reads every row. The lookups by `target` (a pool's
# inflow, a day's points) and by `event_id` (an event's ticket) keep their indexes. A union queue daily settlement
# writes 10 000 transfers a chunk, each an entry in every index of the table.
SOURCE_INDEX = "idx_transfer_source_485b29"


class Migration(migrations.Migration):
    dependencies = [('rebate', '0014_entitlement_hot')]

    initial = False

    operations = [
        DropColumnIndex(model_name='Transfer', name='source', field=fields.CharField(max_length=128), table='transfer', index=SOURCE_INDEX),
    ]
