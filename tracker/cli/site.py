"""`tracker site OUT`: the static site of the call, every scenario and every indicator."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import as_of_option, boundary, config_option, pack_option


@click.command()
@click.argument("out", metavar="OUT")
@as_of_option
@pack_option
@config_option
@boundary
def site(out: str, as_of: str | None, pack_dir: str | None, config_path: str | None) -> int:
    """Write a static site into OUT (no script, no remote assets; works from file://).

    OUT is replaced in one step, so a web server never serves half a site. It must be new,
    empty, or a site tracker wrote before."""
    from tracker import service
    from tracker.views import site as site_view

    ctx = service.load(config_path, pack_dir)
    day = service.parse_day(as_of)
    with ctx.store() as store:
        made = site_view.write_site(ctx, store, day, Path(out))
    click.echo(f"Wrote {made['pages']} pages and {made['charts']} charts to {out} "
               f"(open {Path(out) / 'index.html'}).")
    return 0


COMMANDS = [site]
