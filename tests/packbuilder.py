"""Small packs for tests, written from Python dicts into a folder (usually tmp_path).

    root/
      config.yaml            pack: indicators, store: tracker.db, scoring: {...}
      indicators/scenarios.yaml
      indicators/<id>.yaml   one per indicator
      seeds/<id>.csv         date, value|level, published, source_url, note

`numeric()` and `ordinal()` fill in the fields every indicator needs, so a test states only
what it is about. Everything goes through the real loaders (load_pack, load_config), so a
pack that builds here is a pack the CLI accepts.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tracker.config import Config
from tracker.pack import schema as pack_schema
from tracker.pack.config_schema import load_config
from tracker.pack.load import Pack, load_pack
from tracker.pack.records import from_model
from tracker.pack.types import Indicator, ScenarioSet
from tracker.store import columns

RATIONALE = "A test indicator: its numbers are chosen to make the arithmetic easy to follow."


def scenarios(priors: dict[str, float], groups: dict[str, float], name: str = "Test pack") -> dict[str, Any]:
    """scenarios.yaml: scenario id -> prior, group id -> group weight."""
    return {
        "name": name,
        "scenarios": [{"id": s, "name": f"Scenario {s}", "description": f"The {s} future.", "prior": p}
                      for s, p in priors.items()],
        "groups": {g: {"name": f"Group {g}", "weight": w} for g, w in groups.items()},
    }


def numeric(iid: str, group: str, states: list[dict[str, Any]], likelihood: dict[str, dict[str, float]],
            **extra: Any) -> dict[str, Any]:
    doc = {"id": iid, "name": f"Indicator {iid}", "group": group, "source": {"kind": "manual"},
           "states": states, "likelihood": likelihood, "rationale": RATIONALE}
    doc.update(extra)
    return doc


def ordinal(iid: str, group: str, levels: list[str], likelihood: dict[str, dict[str, float]],
            pace: dict[str, str], **extra: Any) -> dict[str, Any]:
    doc = {"id": iid, "name": f"Indicator {iid}", "group": group, "kind": "ordinal",
           "source": {"kind": "manual"}, "levels": levels, "likelihood": likelihood, "pace": pace,
           "rationale": RATIONALE}
    doc.update(extra)
    return doc


def checked_indicator(doc: dict[str, Any]) -> Indicator:
    """An indicator document checked by the schema, as the record the rest of tracker reads."""
    return from_model(pack_schema.Indicator.model_validate(doc))


def checked_scenarios(doc: dict[str, Any]) -> ScenarioSet:
    return from_model(pack_schema.ScenarioSet.model_validate(doc))


def write_pack(root: Path, scen: dict[str, Any], indicators: list[dict[str, Any]],
               seeds: dict[str, list[dict[str, Any]]] | None = None,
               scoring: dict[str, Any] | None = None, store: str = "tracker.db") -> Path:
    """Write config.yaml, the pack and its seeds under root; return the config path."""
    root = Path(root)
    pack_dir = root / "indicators"
    pack_dir.mkdir(parents=True, exist_ok=True)
    (pack_dir / "scenarios.yaml").write_text(yaml.safe_dump(scen, sort_keys=False, allow_unicode=True))
    seeds = seeds or {}
    for doc in indicators:
        doc = dict(doc)
        if doc["id"] in seeds:
            doc["seed"] = f"seeds/{doc['id']}.csv"
            write_seed(root / "seeds" / f"{doc['id']}.csv", doc, seeds[doc["id"]])
        (pack_dir / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    config: dict[str, Any] = {"pack": "indicators", "store": store}
    if scoring:
        config["scoring"] = scoring
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_seed(path: Path, doc: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    what = "level" if doc.get("kind") == "ordinal" else "value"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["date", what, "published", "source_url", "note"])
        for r in rows:
            out.writerow([r["date"], r[what], r.get("published", ""),
                          r.get("source_url", f"https://example.org/{doc['id']}/{r['date']}"),
                          r.get("note", "")])


def load(config_path: Path) -> tuple[Config, Pack]:
    cfg = load_config(config_path)
    return cfg, load_pack(cfg.pack_dir)


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Observation rows (date, value|level, published, …) as the frame Store.write_vintage takes."""
    out = pd.DataFrame([{"date": r["date"], "value": r.get("value"), "level": r.get("level"),
                         "published": r.get("published", r["date"]),
                         "source_url": r.get("source_url", "https://example.org/x"), "note": r.get("note")}
                        for r in rows], columns=["date", "value", "level", "published", "source_url", "note"])
    out["date"] = pd.to_datetime(out["date"])
    out["published"] = pd.to_datetime(out["published"])
    out["value"] = out["value"].astype(float)
    return out


def utc(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def copy_known_at(src: Path, dst: Path, day: dt.date) -> None:
    """A second store holding only what was known at the end of `day`: vintages fetched by
    then, and in them only rows dated and published by then. Plain SQL, not the store's own
    as-of code, so that it checks that code rather than repeating it."""
    if dst.exists():
        dst.unlink()
    shutil.copyfile(src, dst)
    for suffix in ("-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
    db = sqlite3.connect(dst)
    with db:
        eod = f"{day.isoformat()}T23:59:59Z"
        late = "SELECT id FROM vintages WHERE fetched_at > ?"
        db.execute(f"DELETE FROM observations WHERE vintage_id IN ({late})", (eod,))
        db.execute("DELETE FROM vintages WHERE fetched_at > ?", (eod,))
        db.execute("DELETE FROM observations WHERE published > ? OR date > ?", (str(day), str(day)))
        db.execute("DELETE FROM vintage_columns")    # the scorer's packed columns, made again from the rows left
        columns.backfill(db)
    db.close()


def concurrent_writer(path: str, name: str, count: int, start: Any, out: Any) -> None:
    """Child process body for the two-writer test: wait for the start signal, then write
    `count` vintages of indicator `name` as fast as possible; report errors through `out`."""
    from tracker.store.db import Store

    try:
        with Store(Path(path)) as store:
            start.wait(30)
            for n in range(count):
                rows = frame([{"date": "2024-01-05", "value": float(n)},
                              {"date": "2024-01-12", "value": 1.0}])
                store.write_vintage(name, rows, fetched_at=utc("2024-02-01") + dt.timedelta(seconds=n),
                                    origin="ingest")
        out.put((name, "ok"))
    except Exception as exc:  # reported to the parent, which fails the test with it
        out.put((name, f"{type(exc).__name__}: {exc}"))


def crash_mid_write(path: str) -> None:
    """Child process body: die (no cleanup, no rollback) in the middle of a vintage write."""
    from tracker.store.db import Store

    store = Store(Path(path))
    rows = frame([{"date": f"2024-0{m}-01", "value": float(m)} for m in range(1, 10)])
    with store.transaction() as db:
        db.execute("INSERT INTO vintages (indicator, fetched_at, origin, content_hash, rows) "
                   "VALUES ('x', '2024-12-01T00:00:00Z', 'ingest', 'h', 9)")
        values = [(str(d.date()), v, str(d.date())) for d, v in zip(rows["date"], rows["value"], strict=True)]
        db.executemany("INSERT INTO observations VALUES (last_insert_rowid(), ?, ?, NULL, ?, NULL, NULL)",
                       values)
        os._exit(17)


# ---------------------------------------------------------------- the signpost pack of the observe tests

def signpost_scenarios(**groups: float) -> dict[str, Any]:
    """The scenarios of the observe, retract and seed tests: a deal signpost and a settlement share."""
    return scenarios({"A": 0.45, "B": 0.25, "C": 0.30}, {"deal": 1.0, "money": 0.6, **groups})


def pos2_stage() -> dict[str, Any]:
    return ordinal("pos2-stage", "deal", ["talks", "memorandum", "price_agreed"],
                   {"talks": {"A": 0.5, "B": 0.2, "C": 0.8}, "memorandum": {"A": 0.6, "B": 0.4, "C": 0.5},
                    "price_agreed": {"A": 0.5, "B": 0.8, "C": 0.1}},
                   {"A": "18M", "B": "9M", "C": "60M"})


def settlement_share(**extra: Any) -> dict[str, Any]:
    return numeric("settlement-share", "money", [{"name": "limited", "below": 50}, {"name": "high"}],
                   {"limited": {"A": 0.35, "B": 0.1, "C": 0.55}, "high": {"A": 0.45, "B": 0.45, "C": 0.25}},
                   **extra)


STAGE_SEEDS = [{"date": "2023-02-01", "level": "talks"}, {"date": "2025-09-02", "level": "memorandum"}]


def copy_default_project(root: Path) -> Path:
    """The default pack, its seeds and config.yaml copied into `root`; returns the config path."""
    repo = Path(__file__).resolve().parents[1]
    root.mkdir(parents=True, exist_ok=True)
    for name in ("indicators", "seeds"):
        shutil.copytree(repo / name, root / name)
    shutil.copy2(repo / "config.yaml", root / "config.yaml")
    return root / "config.yaml"
