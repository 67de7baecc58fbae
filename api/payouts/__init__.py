"""Payout subscriptions (I-1): what a settled batch paid, as the workers publish it on Redis."""
