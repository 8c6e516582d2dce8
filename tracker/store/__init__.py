"""The SQLite store: observations by vintage, runs, scores and digest sends; seeding it from the pack's seeds.
May import: the pack and the shared modules. Storage knows no model: never scoring, sources, operations or views.
The pack must never import it."""
