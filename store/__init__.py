"""Persistence: tortoise models, migrations, the ledger writer and the repositories."""
