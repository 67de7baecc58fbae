"""The ledger (C-5): a member's transfers and the zero-sum check."""
