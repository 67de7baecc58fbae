"""钱包 wallets area: withdrawals, member transfers, the liability report."""
