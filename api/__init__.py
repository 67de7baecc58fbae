"""GraphQL API (SPEC I-1..I-3): a strawberry schema on a Starlette app, one package per area."""
