"""Colour for the terminal views, on a terminal only (issue 17).

The views print plain lines that already fit the width; colour is laid over them afterwards, by
pattern, so a pipe, a file or cron gets exactly the plain text and the coloured text has the
same characters and line breaks. rich writes the escape codes and knows the terminal's colour
support. It is imported only when stdout is a terminal and NO_COLOR is unset or empty
(no-color.org): that keeps its import out of `tracker score`'s start-up in scripts and cron.
"""

from __future__ import annotations

import os
from typing import TextIO

Rules = list[tuple[str, str]]
"""(regular expression, rich style) pairs, applied in order."""

SIGNED = [(r"(?<![\w.])\+\d+\.\d+", "green"), (r"(?<![\w.])-\d+\.\d+", "red")]
TITLE = [(r"\A[^\n]*", "bold")]

STYLES: dict[str, Rules] = {
    "score": [*TITLE, (r"(?m)^(?:\S.*) (?:leads at|is trending)[^\n]*$", "bold"),
              (r"↑", "green"), (r"↓", "red"), (r"\[stalled\]", "yellow"), (r"\[new evidence\]", "cyan"),
              (r"(?m)^  (?:stale|no data yet|not enough history) \(", "yellow"),
              (r"(?m)^(?:Top movers|Watch next)[^\n]*", "bold")],
    "explain": [*TITLE, *SIGNED, (r"(?m)^  (?:= log2 posterior \(centred\)|posterior)\b", "bold"),
                (r"(?m)^(?:What would change the call|Best pair toward)[^\n]*", "bold")],
    "status": [*TITLE, (r"(?m)^OK:", "bold green"), (r"(?m)^FAILING:", "bold red"),
               (r"(?m)^ALERT NOT SENT:", "bold red"), (r"(?m)(?<= )failed(?= )", "red")],
    "timeline": [*TITLE],
    "sources": [(r"\A[^\n]*", "bold"), (r"\b\d+ fail\b", "red"), (r"\b\d+ empty\b", "yellow")],
}


def wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything but empty."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def show(text: str, view: str, stream: TextIO) -> None:
    """Print `text` to a terminal with the view's colours. Lines and characters stay those of
    `text`: rich neither wraps nor crops (soft_wrap), since the lines already fit."""
    from rich.console import Console
    from rich.text import Text

    styled = Text(text, no_wrap=True, overflow="ignore")
    for pattern, style in STYLES.get(view, []):
        styled.highlight_regex(pattern, style)
    Console(file=stream, soft_wrap=True, highlight=False, markup=False, emoji=False).print(styled)
