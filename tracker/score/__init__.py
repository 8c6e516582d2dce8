"""Transforms, features, evidence and posterior, the trend call, what-if, the backtest replay and pack tests.
May import: the pack and the shared modules. Scoring never fetches: never sources, the store, operations or views.
The pack and the store must never import it."""
