"""The application layer shared by the API, the CLI and the workers: intake, queries, runtime."""
