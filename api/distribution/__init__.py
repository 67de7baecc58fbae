"""分销 distribution rewards and the compliance guard over GraphQL (DR-1..DR-8)."""
