"""The Jinja2 set-up the digest and the site share: HTML autoescaped (a note, URL or name that a
source wrote is text, never markup), an undefined name an error rather than a blank, and the
filters both sets of templates use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def environment(folder: Path, finalize: Callable[[Any], Any] | None = None,
                keep_trailing_newline: bool = False) -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder),
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                                                 disabled_extensions=("txt",),
                                                                 default_for_string=True, default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=keep_trailing_newline,
                             **({"finalize": finalize} if finalize else {}))
    env.filters["p"] = lambda x: "—" if x is None else f"{x:.2f}"
    env.filters["signed"] = signed
    env.filters["http"] = lambda url: url if isinstance(url, str) and url.lower().startswith(
        ("http://", "https://")) else None
    return env


def signed(x: float | None) -> str:
    """A change with its sign, never "-0.00"."""
    if x is None:
        return "—"
    return "0.00" if round(x, 2) == 0 else f"{x:+.2f}"
