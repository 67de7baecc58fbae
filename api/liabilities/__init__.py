"""I-5 liability report area."""
