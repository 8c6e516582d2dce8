"""What people read: terminal and JSON reports, the digest with its chart and mail, CSV export, the templates.
May import: the service, scoring, the store, the pack and the shared modules; never sources, operations or the CLI.
The core (pack, store, scoring, sources) must never import it: the core knows no screen."""
