"""`tracker sources`: the health of every fetched source, one row each."""

from __future__ import annotations

import click

from tracker.cli.common import boundary, config_option, emit_json, emit_text, json_option, pack_option
from tracker.text import escape_fields


@click.command()
@pack_option
@config_option
@json_option
@boundary
def sources(pack_dir: str | None, config_path: str | None, as_json: bool) -> int:
    """One row per fetched source: kind, last fetched, last new data, last revision, failures or empty
    answers in a row, and conditional-request support."""
    from tracker import service
    from tracker.ops import sourcelist

    ctx = service.load(config_path, pack_dir)
    with ctx.store() as store:
        doc = sourcelist.sources(ctx, store)
    # Errors hold what servers said: shown with control characters escaped.
    emit_json(doc) if as_json else emit_text(sourcelist.render(escape_fields(doc)), "sources")
    return 0


COMMANDS = [sources]
