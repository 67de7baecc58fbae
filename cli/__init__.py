"""The ops CLI, installed as the console script `rebate` (SPEC I-4)."""
