"""The pack and config.yaml as checked input: strict YAML, the schema, file:line problems, lints, the load cache.
May import: only the shared modules at the top (errors, durations, suggest, cycles, config).
Never imports storage, scoring, sources, operations, views or the command line (import-linter checks this)."""
