"""The default pack's seed rows as data: each was public on or after the day it describes and not
after today, and its note speaks to a reader of the digest, not to the research file.

The `published` date decides when a backtest first sees a figure, so a row published before its
own date, or in the future, would let `tracker backtest` and `--as-of` know something early. The
store's reader refuses the first (tracker/store/seeds.py); these tests read the CSV files
themselves, so they hold whatever the reader does, and also catch a date in the future.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.csv"))
# Research-file shorthand that means nothing to a reader of the digest or of `tracker explain`;
# the tags and section references live in seeds/README.md's audit table instead.
JARGON = ("FIGURES", "[V]", "[D]", "Part D")


def problems(path: Path, today: dt.date) -> list[str]:
    """Every way a seed file's rows break the rules, one line each (empty when it is sound)."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{path.name}:{line}"
            try:
                date = dt.date.fromisoformat(row["date"].strip())
                published = dt.date.fromisoformat(row["published"].strip())
            except (KeyError, AttributeError, ValueError) as exc:
                out.append(f"{where}: date or published missing or not YYYY-MM-DD ({exc})")
                continue
            if published < date:
                out.append(f"{where}: published {published} is before its date {date}")
            if published > today:
                out.append(f"{where}: published {published} is in the future (today is {today})")
            note = row.get("note") or ""
            out += [f"{where}: note contains {word!r}" for word in JARGON if word in note]
    return out


def test_the_seed_folder_is_not_empty() -> None:
    assert len(SEEDS) >= 10


def test_every_seed_an_indicator_names_is_checked() -> None:
    named = set()
    for path in (ROOT / "indicators").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("seed"):
            named.add((ROOT / doc["seed"]).resolve())
    assert named and named <= {p.resolve() for p in SEEDS}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_rows_are_dated_and_published_in_order(path: Path) -> None:
    assert problems(path, dt.date.today()) == []


BROKEN = [
    ("2025-12-31,1,2025-12-30,https://example.org/a,published the day before", "is before its date"),
    ("2025-12-31,1,2999-01-01,https://example.org/b,published in the future", "is in the future"),
    ("2025-12-31,1,2026-01-13,https://example.org/c,[V] FIGURES C.6: a research note", "note contains"),
    ("2025-12-31,1,2026-01-13,https://example.org/d,[D] endorsed in Part D", "note contains"),
    ("2025-12-31,1,,https://example.org/e,no published date", "not YYYY-MM-DD"),
]


@pytest.mark.parametrize(("row", "expected"), BROKEN, ids=[e for _, e in BROKEN])
def test_a_broken_row_is_caught(tmp_path: Path, row: str, expected: str) -> None:
    path = tmp_path / "broken.csv"
    good = '2024-12-31,1,2025-01-13,https://example.org/ok,"Customs figure, as reported on 13 Jan 2025"'
    path.write_text(f"date,value,published,source_url,note\n{good}\n{row}\n", encoding="utf-8")
    found = problems(path, dt.date(2026, 12, 6))
    assert len(found) >= 1 and all(p.startswith("broken.csv:3:") for p in found)
    assert any(expected in p for p in found)
