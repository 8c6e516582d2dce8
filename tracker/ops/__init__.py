"""Running unattended and by hand: the nightly run, its lock, the scheduler daemon, cron lines, status, observe.
May import: views, the service, scoring, sources, the store, the pack and the shared modules.
Only the command line imports it."""
