"""Members and their wallets (M-1, M-6)."""
