"""The bare floors of issue 20, each run as its own process (wall and peak RSS its own):

    python benchmarks/e2e_floors.py ingest DATA_DIR DB   # pandas.read_csv + one executemany per file
    python benchmarks/e2e_floors.py select DB            # one SELECT of every row, fetchall

The table has the columns, primary key and pragmas of the store's `observations`
(tracker/store/schema.py, tracker/store/db.py), so the floor pays for the same B-tree and the
same WAL. Each file is one transaction, as each vintage is in the store. It prints one line of
JSON: the rows and the seconds spent after start-up (the wall of the process includes starting
Python and importing pandas, as the wall of `tracker ingest` does).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from itertools import repeat
from pathlib import Path

PRAGMAS = ("PRAGMA busy_timeout=30000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
           "PRAGMA foreign_keys=ON")
TABLE = """CREATE TABLE observations (
    vintage_id INTEGER NOT NULL, date TEXT NOT NULL, value REAL, level TEXT,
    published TEXT NOT NULL, source_url TEXT, note TEXT,
    PRIMARY KEY (vintage_id, date)) WITHOUT ROWID"""


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def ingest(data: Path, db: Path) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = connect(db)
    conn.execute(TABLE)
    rows, files = 0, sorted(data.glob("*.csv"))
    for vintage, path in enumerate(files, start=1):
        frame = pd.read_csv(path)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO observations (vintage_id, date, value, published) VALUES (?, ?, ?, ?)",
                         zip(repeat(vintage), frame["date"].tolist(), frame["value"].tolist(),
                             frame["published"].tolist()))
        conn.execute("COMMIT")
        rows += len(frame)
    conn.close()
    return {"rows": rows, "files": len(files), "seconds": time.perf_counter() - t0}


def select(db: Path) -> dict:
    t0 = time.perf_counter()
    conn = connect(db)
    got = conn.execute("SELECT vintage_id, date, value, level, published, source_url, note "
                       "FROM observations").fetchall()
    took = time.perf_counter() - t0
    conn.close()
    return {"rows": len(got), "seconds": took}


def main(argv: list[str]) -> int:
    if argv[:1] == ["ingest"] and len(argv) == 3:
        doc = ingest(Path(argv[1]), Path(argv[2]))
    elif argv[:1] == ["select"] and len(argv) == 2:
        doc = select(Path(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
