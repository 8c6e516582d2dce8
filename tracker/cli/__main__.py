"""`python -m tracker.cli`, as the tests and cron-less setups run it."""

from tracker.cli.entry import run

run()
