"""Terminal output fits the terminal (issue 17, Why 5): `COLUMNS=80 tracker score`, `explain`,
`status` and `backtest` print no line over 80 columns; in a real 80-column terminal (tmux) no
line wraps, so no word is split across lines; colour appears on a terminal only and NO_COLOR
turns it off; `tracker ingest` shows its progress line on a terminal only."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import copy_default_project, numeric, ordinal, scenarios, utc, write_pack

from tracker import service
from tracker.cli import main
from tracker.store.db import Store
from tracker.views.terminal import fit, shorten, signed

DAY = "2026-11-23"
VIEWS = {
    "score": ["score", "--as-of", DAY],
    "explain": ["explain", "--as-of", DAY],
    "explain B": ["explain", "B", "--as-of", DAY],
    "status": ["status"],
    "backtest": ["backtest", "--from", "2021-01-01", "--to", DAY],
    "sources": ["sources"],
}


@pytest.fixture(scope="module")
def default_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default pack, its seeds and config in a folder of their own, its store seeded."""
    root = tmp_path_factory.mktemp("default")
    copy_default_project(root)
    assert tracker(root / "config.yaml", "score").returncode == 0
    return root / "config.yaml"


def tracker(cfg: Path, *args: str, columns: str | None = "80", **env: str) -> subprocess.CompletedProcess[str]:
    """`COLUMNS=80 tracker ARGS` as a user runs it: a process of its own, output to a pipe."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cfg.parent), "TZ": "UTC", **env}
    if columns:
        base["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "tracker.cli", *args, "--config", str(cfg)], cwd=cfg.parent,
                          env=base, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_default_pack_views_fit_80_columns(default_pack: Path, view: str) -> None:
    res = tracker(default_pack, *VIEWS[view])
    assert res.returncode in (0, 1), res.stderr           # status: 1 = no nightly run yet
    lines = res.stdout.splitlines()
    assert len(lines) > 3
    assert max(map(len, lines)) <= 80, max(lines, key=len)


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long ids, long URLs, seven scenarios and a stalled signpost: the widest lines a pack makes."""
    root = tmp_path_factory.mktemp("awkward")
    scen = list("ABCDEFG")
    like = {"low": dict(zip(scen, (0.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1), strict=True)),
            "high": dict(zip(scen, (0.1, 0.1, 0.3, 0.2, 0.1, 0.1, 0.1), strict=True))}
    url = "https://statistics.example.org/a/very/long/path/to/a/dataset/with/many/segments/series-{i}.csv"
    inds = [numeric(f"an-indicator-with-a-long-identifier-that-ends-{i}", "g",
                    [{"name": "low", "below": 0}, {"name": "high"}], like) for i in range(3)]
    stages = {"talks": dict.fromkeys(scen, 0.5), "deal": {**dict.fromkeys(scen, 0.5), "B": 0.9}}
    inds.append(ordinal("signpost", "g", ["talks", "deal"], stages, dict.fromkeys(scen, "300d")))
    inds.append(numeric("a-fetched-source-whose-identifier-is-longer-than-sixty-columns-wide", "g",
                        [{"name": "low", "below": 0}, {"name": "high"}], like,
                        source={"kind": "file", "path": "data/not-fetched-yet.csv"}))
    seeds = {d["id"]: [{"date": "2024-05-31", "value": v, "source_url": url.format(i=i)}]
             for i, (d, v) in enumerate(zip(inds, (-1.0, 1.0, 2.0), strict=False))}
    seeds["signpost"] = [{"date": "2023-01-31", "level": "talks"}]
    cfg = write_pack(root, scenarios(dict.fromkeys(scen, 1 / 7), {"g": 1.0}), inds, seeds)
    service.load(str(cfg)).store().close()          # seeded first, as any command does
    with Store(root / "tracker.db") as store:        # a failed run with long messages, 300 weeks of scores
        run = store.begin_run("run", now=utc("2024-06-01", 4))
        store.record_sources(run, [{"indicator": inds[-1]["id"], "status": "failed",
                                    "error": "HTTP 500: " + "the server said something rather long " * 6}])
        store.finish_run(run, "partial", {"error": "RuntimeError: " + "a long explanation " * 10},
                         now=utc("2024-06-01", 5))
        days = pd.date_range("2018-06-01", periods=300, freq="7D")
        store.save_scores(run, pd.DataFrame({s: [1 / 7] * 300 for s in scen}, index=days))
    return cfg


@pytest.mark.parametrize("columns", ["80", "60", "40"])
@pytest.mark.parametrize("view", ["score", "explain", "explain B", "status", "backtest", "sources", "history"])
def test_awkward_pack_fits_every_width(awkward: Path, view: str, columns: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    args = {"explain B": ["explain", "B"], "backtest": ["backtest", "--from", "2020-01-01", "--to", "2024-06-30"],
            "score": ["score", "--as-of", "2024-06-30"], "explain": ["explain", "--as-of", "2024-06-30"]}
    res = CliRunner().invoke(main, [*args.get(view, [view]), "--config", str(awkward)])
    assert res.exit_code in (0, 1), res.output
    lines = res.stdout.splitlines()
    assert max(map(len, lines)) <= int(columns), max(lines, key=len)
    ids = {f"an-indicator-with-a-long-identifier-that-ends-{i}" for i in range(3)}
    if view in ("score", "explain", "explain B") and columns != "40":   # ids whole, on a line of their own if need be
        words = {w.strip(",:()") for w in res.stdout.split()}
        assert ids <= words, sorted(words)


def test_backtest_width_option_sets_the_columns(default_pack: Path) -> None:
    res = tracker(default_pack, "backtest", "--from", "2021-01-01", "--to", DAY, "--width", "50", columns=None)
    assert res.returncode == 0, res.stderr
    assert max(map(len, res.stdout.splitlines())) <= 50
    bad = tracker(default_pack, "backtest", "--from", "2021-01-01", "--width", "5")
    assert bad.returncode == 2 and "--width" in bad.stderr


def test_shortening_cuts_at_boundaries_never_inside_a_word() -> None:
    assert shorten("B  Deep strategic integration", 20) == "B  Deep strategic…"
    assert shorten("imts-cn-exports-m", 12) == "imts-cn-…"
    assert shorten("https://www.vedomosti.ru/auto/news/2026/01/23/1171259-import-toyota", 50) == \
        "https://www.vedomosti.ru/…/1171259-import-toyota"
    assert shorten("short", 5) == "short"
    assert all("(tr" not in line or "(trend" in line for line in fit("x (trend threshold) " * 8, columns=23))
    assert (signed(-0.001), signed(-0.0004, 3), signed(0.126)) == ("+0.00", "+0.000", "+0.13")


# ---------------------------------------------------------------- a real terminal

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (Debian: apt-get install tmux; "
                                                     ".ci/run installs it)")


def in_tmux(cwd: Path, command: str, columns: int = 80, **env: str) -> dict[str, str]:
    """Run `command` in a detached tmux pane `columns` wide (no $COLUMNS: the width is the
    terminal's own); return the pane as seen (`rows`), with wrapped lines joined (`joined`) and
    with its colour escapes (`escapes`)."""
    sock = f"tracker-test-{uuid.uuid4().hex[:8]}"
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX", "NO_COLOR")}
    script = f"{command}; echo __DONE__; sleep 120"
    base = [TMUX, "-L", sock, "-f", "/dev/null"]
    subprocess.run([*base, "new-session", "-d", "-x", str(columns), "-y", "400", "sh", "-c", script],
                   cwd=cwd, env={**clean, **env}, check=True, timeout=30)
    try:
        deadline = time.monotonic() + 120
        while True:
            rows = _capture(base)
            if "__DONE__" in rows or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "__DONE__" in rows, rows
        return {name: _capture(base, *flags).split("__DONE__")[0]
                for name, flags in (("rows", ()), ("joined", ("-J",)), ("escapes", ("-e",)))}
    finally:
        subprocess.run([*base, "kill-server"], check=False, timeout=30, capture_output=True)


def _capture(base: list[str], *flags: str) -> str:
    return subprocess.run([*base, "capture-pane", "-p", *flags, "-S", "-", "-E", "-"], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def command(cfg: Path, *args: str) -> str:
    return shlex.join([sys.executable, "-m", "tracker.cli", *args, "--config", str(cfg)])


@needs_tmux
def test_an_80_column_terminal_wraps_no_line_and_splits_no_word(default_pack: Path) -> None:
    views = ["score", "explain", "status", "backtest"]
    pane = in_tmux(default_pack.parent, "; ".join(command(default_pack, *VIEWS[v]) for v in views))
    rows = [line.rstrip() for line in pane["rows"].splitlines()]
    joined = [line.rstrip() for line in pane["joined"].splitlines()]
    assert len(rows) > 100
    assert rows == joined, [r for r in rows if r not in joined][:5]     # tmux joins only wrapped lines
    screen = "\n".join(rows)
    for v in ("score", "explain", "backtest"):     # the terminal shows what a pipe gets, line for line
        printed = [line.rstrip() for line in tracker(default_pack, *VIEWS[v]).stdout.splitlines()]
        assert "\n".join(printed) in screen, v


@needs_tmux
def test_colour_on_a_terminal_only_and_never_with_no_color(default_pack: Path) -> None:
    coloured = in_tmux(default_pack.parent, command(default_pack, *VIEWS["score"]), TERM="xterm-256color")
    assert "\x1b[" in coloured["escapes"]
    plain = in_tmux(default_pack.parent, command(default_pack, *VIEWS["score"]), NO_COLOR="1")
    assert "\x1b[" not in plain["escapes"]
    assert plain["rows"] == coloured["rows"]                    # the same characters, colour aside
    piped = tracker(default_pack, *VIEWS["score"], TERM="xterm-256color")
    assert "\x1b" not in piped.stdout


@needs_tmux
def test_ingest_progress_line_on_a_terminal_plain_log_lines_otherwise(tmp_path: Path) -> None:
    from ingest_helpers import csv_text, write_project

    (tmp_path / "data.csv").write_text(csv_text([("2024-01-31", 1.0), ("2024-02-29", 2.0)]))
    cfg = write_project(tmp_path, {"local": {"kind": "file", "path": "data.csv"}})
    pane = in_tmux(tmp_path, command(cfg, "ingest"))
    assert pane["rows"].splitlines()[0] == "[1/1] local: new" and " INFO " not in pane["rows"]
    (tmp_path / "data.csv").write_text(csv_text([("2024-01-31", 1.0), ("2024-03-29", 3.0)]))
    piped = tracker(cfg, "ingest")                              # cron: a plain log line per source
    assert "INFO [1/1] local: new" in piped.stderr and "\x1b" not in piped.stderr
