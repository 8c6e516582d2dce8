"""`tracker site OUT` (issue 19): the static site, its pages, charts, escaping and caps; the
one-step publish; and the nightly refresh with `site: {out: DIR}`.

Everything is real: the CLI through click, packs through the real loaders, real SQLite stores,
real files. The browser check is tests/test_site_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from packbuilder import checked_indicator, copy_default_project, frame, numeric, ordinal, scenarios, utc, write_pack
from pytest_httpserver import HTTPServer

from tracker import service
from tracker.cli import main
from tracker.ops import nightly
from tracker.pack.config_schema import load_config
from tracker.store.db import Store
from tracker.views import site as site_view
from tracker.views import sitecharts, sitedata, sitepublish
from tracker.views.sitedata import CAP

AS_OF = "2026-06-05"
TRADE_STATES = [{"name": "falling", "below": -2}, {"name": "stable", "below": 5}, {"name": "rising"}]
TRADE_LIK = {"falling": {"A": 0.3, "B": 0.1, "C": 0.6}, "stable": {"A": 0.5, "B": 0.3, "C": 0.2},
             "rising": {"A": 0.3, "B": 0.6, "C": 0.1}}


# ---------------------------------------------------------------- helpers

class Links(HTMLParser):
    """Every href and src of a page, the alt of every image, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []     # (tag, attribute, value)
        self.alts: list[str | None] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.scripts += tag == "script"
        for name in ("href", "src"):
            if a.get(name):
                self.refs.append((tag, name, a[name] or ""))
        if tag == "img":
            self.alts.append(a.get("alt"))


def parse(page: Path) -> Links:
    p = Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def check_site(root: Path) -> list[str]:
    """What is wrong with the site in `root`: a relative link or image to a missing file, a
    remote asset, a script, an image without alt text, a missing page. [] when whole."""
    problems = []
    if not (root / "index.html").is_file():
        return [f"{root}: no index.html"]
    for page in sorted(root.rglob("*.html")):
        links = parse(page)
        if links.scripts:
            problems.append(f"{page.name}: has a script")
        for tag, attr, ref in links.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https"):
                if tag != "a":
                    problems.append(f"{page.name}: remote asset {ref}")
                continue
            target = (page.parent / parts.path).resolve()
            if not target.is_file():
                problems.append(f"{page.relative_to(root)}: {tag} {attr}={ref} -> missing")
        problems += [f"{page.name}: image without alt text" for alt in links.alts if not alt]
    return problems


def default_project(tmp_path: Path) -> Path:
    copy_default_project(tmp_path)
    return tmp_path / "config.yaml"


def run_site(cfg: Path, out: Path, *args: str):
    return CliRunner().invoke(main, ["site", str(out), "--config", str(cfg), *args])


def small_pack(root: Path, **extra) -> Path:
    """Three scenarios, a numeric indicator with a year of monthly seeds, and a signpost."""
    seeds = {"trade": [{"date": f"2025-{m:02d}-28", "value": 100 + m} for m in range(1, 13)]
             + [{"date": f"2026-{m:02d}-28", "value": 100 + m * 0.5} for m in range(1, 5)],
             "deal": [{"date": "2025-03-01", "level": "talks"}, {"date": "2025-11-01", "level": "signed"}]}
    trade = numeric("trade", "g", TRADE_STATES, TRADE_LIK, unit="USD bn", transforms=[{"yoy": {"how": "pct"}}],
                    tests=[{"name": "a rise", "as_of": "2026-01-31",
                            "given": [{"date": "2025-01-31", "value": 100}, {"date": "2026-01-31", "value": 110}],
                            "expect": {"state": "rising"}},
                           {"name": "wrong on purpose", "as_of": "2026-01-31",
                            "given": [{"date": "2025-01-31", "value": 100}, {"date": "2026-01-31", "value": 110}],
                            "expect": {"state": "falling"}}], **extra)
    deal = ordinal("deal", "h", ["talks", "signed", "built"],
                   {"talks": {"A": 0.5, "B": 0.2, "C": 0.6}, "signed": {"A": 0.5, "B": 0.6, "C": 0.3},
                    "built": {"A": 0.4, "B": 0.9, "C": 0.1}}, {"A": "12M", "B": "6M", "C": "36M"})
    return write_pack(root, scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {"g": 1.0, "h": 1.0}), [trade, deal], seeds)


# ---------------------------------------------------------------- the default pack

def test_the_default_pack_site_is_whole_and_says_what_score_says(tmp_path: Path) -> None:
    cfg = default_project(tmp_path)
    out = tmp_path / "out"
    res = run_site(cfg, out, "--as-of", "2026-12-06")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("Wrote 26 pages and 33 charts to ")
    assert check_site(out) == []
    pack = service.load(str(cfg)).pack
    for iid in pack.indicators:
        assert (out / "indicators" / f"{iid}.html").is_file()
        assert (out / "charts" / f"{iid}-series.svg").stat().st_size > 1000
    for sid in pack.scenario_ids:
        assert (out / "scenarios" / f"{sid}.html").is_file()
    assert not (out / "evaluation.html").exists()          # the default pack has no outcomes.csv
    doc = json.loads(CliRunner().invoke(main, ["score", "--json", "--as-of", "2026-12-06", "--config",
                                               str(cfg)]).stdout)
    index = (out / "index.html").read_text()
    lead = next(s for s in doc["scenarios"] if s["id"] == doc["leading"])
    assert f"{lead['id']} ({lead['name']}) leads at {lead['probability']:.2f}" in index
    assert "The evidence alone favours A (0.54 under a uniform prior), on top of its prior of 0.45." in index
    for m in doc["movers"]:
        assert f'href="indicators/{m["indicator"]}.html"' in index
    marker = json.loads((out / sitepublish.MARKER).read_text())
    assert marker["as_of"] == "2026-12-06" and marker["pages"] == 26


def test_an_indicator_page_shows_bands_likelihood_rationale_tests_and_source(tmp_path: Path) -> None:
    cfg = default_project(tmp_path)
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", "2026-12-06").exit_code == 0
    page = (out / "indicators" / "trade-total.html").read_text()
    assert "contraction" in page and "below -3" in page                 # state and its band
    assert "Total goods trade in current US dollars" in page            # rationale
    assert page.count('class="badge ok">pass</span>') == 4               # its four pack tests
    assert 'href="https://tass.com/economy/2071285"' in page             # the latest observation's source
    svg = (out / "charts" / "trade-total-series.svg").read_text()
    for label in ("boom (favours B)", "stable (favours A)", "contraction (favours C)", "collapse (favours C)"):
        assert label in svg                                              # bands drawn and labelled, as text
    alt = re.search(r'<img src="../charts/trade-total-series.svg"[^>]*alt="([^"]+)"', page).group(1)
    assert alt.startswith("Line chart: 10 observations of") and "State bands: collapse below -15" in alt


def test_the_charts_are_deterministic_svg(tmp_path: Path) -> None:
    cfg = default_project(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_site(cfg, a, "--as-of", "2026-12-06").exit_code == 0
    assert run_site(cfg, b, "--as-of", "2026-12-06").exit_code == 0
    for chart in ("probabilities.svg", "pos2-stage-series.svg", "trade-total-bits.svg"):
        assert (a / "charts" / chart).read_bytes() == (b / "charts" / chart).read_bytes()
        assert (a / "charts" / chart).read_bytes().startswith(b"<?xml")


# ---------------------------------------------------------------- content

def test_revisions_between_vintages_are_listed_and_drawn(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    hollow = "fill: none; stroke: #6b7280; stroke-width: 0.8"              # an earlier vintage's value
    assert run_site(cfg, tmp_path / "before", "--as-of", AS_OF).exit_code == 0
    assert hollow not in (tmp_path / "before" / "charts" / "trade-series.svg").read_text()
    assert "None: one vintage so far." in (tmp_path / "before" / "indicators" / "trade.html").read_text()
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        rows = [{"date": f"2026-{m:02d}-28", "value": 100 + m * 0.5} for m in range(1, 5)]
        rows[1]["value"] = 140.0                                        # February revised up
        rows.append({"date": "2026-05-28", "value": 103.0})
        old = frame([{"date": f"2025-{m:02d}-28", "value": 100 + m} for m in range(1, 13)] + rows)
        store.write_vintage("trade", old, fetched_at=utc("2026-06-01"), origin="ingest")
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    page = (out / "indicators" / "trade.html").read_text()
    # The seeds are vintage 1; the ingest of 1 June revised February and added May: one revision row.
    table = page[page.index("<h3>Revisions</h3>"):]
    assert "2026-02-28" in table and "101" in table and "140" in table
    assert "of 2 vintages" in page
    svg = (out / "charts" / "trade-series.svg").read_text()
    assert hollow in svg


def test_ordinal_page_and_scenario_page_add_up(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    page = (out / "indicators" / "deal.html").read_text()
    assert "signed" in page and "at this level since 2025-11-01" in page
    svg = (out / "charts" / "deal-series.svg").read_text()
    assert "built (favours B)" in svg and "talks (favours C)" in svg
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        data = site_view.gather(ctx, store, dt.date.fromisoformat(AS_OF))
    for sid in ctx.pack.scenario_ids:
        sc = site_view._scenario(data, sid)
        for s in ctx.pack.scenario_ids:   # prior + rows = centred log2 posterior, as explain's identity
            total = sc["prior_bits"][s] + sum(r["bits"][s] for r in sc["rows"])
            assert total == pytest.approx(sc["clr"][s], abs=2e-3)
        html = (out / "scenarios" / f"{sid}.html").read_text()
        bits = [r["bits"][sid] for r in sc["rows"]]
        assert bits == sorted(bits, reverse=True)                        # by bits toward the scenario
        where = [html.index(f'indicators/{r["indicator"]}.html"') for r in sc["rows"]]
        assert where == sorted(where)


def test_a_scenario_page_over_the_row_cap_sums_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = small_pack(tmp_path)
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        data = site_view.gather(ctx, store, dt.date.fromisoformat(AS_OF))
    monkeypatch.setattr(site_view, "SCENARIO_ROWS", 1)
    sc = site_view._scenario(data, "A")
    assert len(sc["rows"]) == 1 and sc["rest"]["count"] == 1
    for s in ctx.pack.scenario_ids:
        total = sc["prior_bits"][s] + sc["rows"][0]["bits"][s] + sc["rest"]["bits"][s]
        assert total == pytest.approx(sc["clr"][s], abs=2e-3)


def test_analyst_observations_are_numbered_and_trend_calls_become_shaded_spans(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        store.write_vintage("deal", frame([{"date": "2025-03-01", "level": "talks"},
                                           {"date": "2025-11-01", "level": "signed"},
                                           {"date": "2026-05-20", "level": "built", "note": "Ribbon cut"}]),
                            fetched_at=utc("2026-05-25"), origin="observe")
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    index = (out / "index.html").read_text()
    assert '<ol class="marks">' in index and "built on 2026-05-20, recorded 2026-05-25: Ribbon cut" in index
    # Every row the observe vintage added or changed (here all three: their source differs from
    # the seeds'), as the digest counts them; the chart's alt text says how many it marks.
    assert index.count("recorded 2026-05-25") == 3 and "Analyst observations marked: 3." in index
    assert "stroke-dasharray" in (out / "charts" / "probabilities.svg").read_text()   # its dotted line
    with ctx.store() as store:
        data = site_view.gather(ctx, store, dt.date.fromisoformat(AS_OF))
    res, t = data.result, len(data.result.grid) - 1
    call = {"scenario": "B", "since": "x", "started": "s1"}
    res.trend = [None] * len(res.grid)
    for k in (t - 9, t - 8, t - 7, t - 2, t - 1, t):   # two runs of weeks: two shaded spans
        res.trend[k] = call
    day = [str(np.datetime64(d, "D")) for d in res.grid]
    spans = sitedata._calls(res, data.shown)
    assert [(c["scenario"], c["start"], c["end"]) for c in spans] == [("B", day[t - 9], day[t - 7]),
                                                                       ("B", day[t - 2], day[t])]


def test_pack_tests_show_pass_and_fail(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    page = (out / "indicators" / "trade.html").read_text()
    assert 'class="badge ok">pass</span> test 1: a rise' in page
    assert 'class="badge bad">FAIL</span> test 2: wrong on purpose' in page
    assert "expects state falling; got state rising (feature 10)" in page


def test_what_sources_and_packs_wrote_is_escaped_and_control_free(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script>\x1b[2J "quoted" & more'
    cfg = small_pack(tmp_path, rationale=f"Why: {evil}")
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        rows = [{"date": "2026-05-28", "value": 99.0, "note": evil, "source_url": "javascript:alert(1)"}]
        store.write_vintage("trade", frame(rows), fetched_at=utc("2026-06-01"), origin="observe")
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert "<script" not in text and "\x1b" not in text, page
        assert 'href="javascript:' not in text, page
    text = (out / "indicators" / "trade.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;[2J &#34;quoted&#34; &amp; more" in text
    assert check_site(out) == []


def test_the_index_caps_its_lists(tmp_path: Path) -> None:
    n = CAP + 18
    inds = [numeric(f"x{i:02d}", "g", TRADE_STATES, TRADE_LIK) for i in range(n)]
    cfg = write_pack(tmp_path, scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {"g": 1.0}), inds)
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    index = (out / "index.html").read_text()
    no_data = index[index.index("<h3>No data yet</h3>"):index.index("</section>", index.index("No data yet"))]
    assert no_data.count("indicators/x") == CAP
    assert "and 18 more" in no_data
    assert f"of {n}; <a href=\"indicators.html\">all {n} indicators</a>" in index
    assert (out / "indicators.html").read_text().count('href="indicators/x') == n


def test_an_evaluation_page_when_the_pack_has_outcomes(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    (tmp_path / "indicators" / "outcomes.csv").write_text(
        "start,end,scenario,source_url,note\n2025-01-01,2025-12-31,A,https://example.org/o,first\n"
        "2026-01-01,,B,https://example.org/o,still going\n", encoding="utf-8")
    out = tmp_path / "out"
    res = run_site(cfg, out, "--as-of", AS_OF)
    assert res.exit_code == 0, res.output
    page = (out / "evaluation.html").read_text()
    ev = json.loads(CliRunner().invoke(main, ["evaluate", "--json", "--to", AS_OF, "--config", str(cfg)]).stdout)
    assert f"{ev['dates_scored']} of {ev['dates']} weekly dates" in page
    assert f"{ev['scores']['model']['brier']:.3f}" in page
    assert (out / "charts" / "evaluate-calls.png").read_bytes()[:4] == b"\x89PNG"
    assert 'href="evaluation.html"' in (out / "index.html").read_text()
    assert check_site(out) == []


def test_state_bands_follow_the_first_match_order() -> None:
    ind = checked_indicator(numeric("x", "g", [{"name": "high", "above": 10}, {"name": "low", "below": 0},
                                               {"name": "mid"}], {"high": {"A": 1, "B": 1}, "low": {"A": 1, "B": 1},
                                                                  "mid": {"A": 1, "B": 1}}))
    assert sitecharts.bands(ind, -5.0, 20.0) == [(-5.0, 0.0, "low"), (0.0, 10.0, "mid"), (10.0, 20.0, "high")]
    ind = checked_indicator(numeric("y", "g", TRADE_STATES, TRADE_LIK))
    assert sitecharts.bands(ind, -1.0, 3.0) == [(-1.0, 3.0, "stable")]
    assert [b[2] for b in sitecharts.bands(ind, -9.0, 9.0)] == ["falling", "stable", "rising"]


# ---------------------------------------------------------------- publishing in one step

def test_a_folder_that_is_not_a_site_is_refused_and_left_alone(tmp_path: Path) -> None:
    cfg = small_pack(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    res = run_site(cfg, home, "--as-of", AS_OF)
    assert res.exit_code == 2
    assert f"Error: {home}: the folder is not empty and was not written by tracker site (it has no " \
           f".tracker-site); choose a new or empty folder" in res.output
    assert [p.name for p in home.iterdir()] == ["notes.txt"]
    res = run_site(cfg, home / "notes.txt", "--as-of", AS_OF)
    assert res.exit_code == 2 and "exists and is not a folder" in res.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".home")] == []


def test_a_site_replaces_the_previous_one_and_a_failed_write_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "site"
    sitepublish.publish(out, lambda d: (d / "index.html").write_text("one") and {"pages": 1}, {})
    (out / "extra.html").write_text("left over")  # replaced whole, not merged
    sitepublish.publish(out, lambda d: (d / "index.html").write_text("two") and {"pages": 1}, {})
    assert (out / "index.html").read_text() == "two" and not (out / "extra.html").exists()

    def broken(folder: Path) -> dict[str, int]:
        (folder / "index.html").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        sitepublish.publish(out, broken, {})
    assert (out / "index.html").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]                 # no temporary folder left
    empty = tmp_path / "empty"
    empty.mkdir()
    sitepublish.publish(empty, lambda d: (d / "index.html").write_text("x") and {"pages": 1}, {})
    assert (empty / "index.html").read_text() == "x"


def test_a_link_to_the_site_is_kept_and_its_target_replaced(tmp_path: Path) -> None:
    real = tmp_path / "www"
    sitepublish.publish(real, lambda d: (d / "index.html").write_text("one") and {"pages": 1}, {})
    link = tmp_path / "public"
    link.symlink_to(real)
    sitepublish.publish(link, lambda d: (d / "index.html").write_text("two") and {"pages": 1}, {})
    assert link.is_symlink() and (link / "index.html").read_text() == "two"


def test_the_checker_catches_a_half_written_site(tmp_path: Path) -> None:
    """check_site is what the concurrency test relies on: it must see a missing chart or page."""
    cfg = small_pack(tmp_path)
    out = tmp_path / "out"
    assert run_site(cfg, out, "--as-of", AS_OF).exit_code == 0
    (out / "charts" / "deal-series.svg").unlink()
    (out / "scenarios" / "C.html").unlink()
    problems = check_site(out)
    assert any("deal-series.svg -> missing" in p for p in problems)
    assert any("scenarios/C.html -> missing" in p for p in problems)


# ---------------------------------------------------------------- configuration and the nightly run

def test_site_in_config_yaml_is_checked_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("pack: indicators\nsite:\n  out: ''\n")
    with pytest.raises(Exception) as err:
        load_config(path)
    assert "config.yaml:3" in str(getattr(err.value, "problems", [err.value])[0])
    path.write_text("pack: indicators\nsite: {out: public/site}\n")
    cfg = load_config(path)
    assert cfg.site is not None and cfg.path(cfg.site.out) == tmp_path / "public" / "site"


GAUGE = ("date,value,source_url,note\n2026-04-01,45,https://stats.example.org/gauge/apr,\n"
         "2026-05-01,40,https://stats.example.org/gauge/may,May reading\n")
NIGHT = dt.datetime(2026, 6, 1, 3, 30, tzinfo=dt.UTC)


def nightly_project(root: Path, url: str, out: str) -> Path:
    path = write_pack(root, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [
        numeric("gauge", "g", [{"name": "low", "below": 50}, {"name": "high", "at_least": 50}],
                {"low": {"A": 0.8, "B": 0.2}, "high": {"A": 0.2, "B": 0.8}},
                source={"kind": "csv", "url": url}, unit="points")],
        seeds={"gauge": [{"date": "2026-04-01", "value": 45, "published": "2026-04-02"}]})
    doc = yaml.safe_load(path.read_text())
    doc.update({"http": {"retries": 0, "timeout": 10, "deadline": 20}, "site": {"out": out}})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _own_logging():
    yield
    nightly.reset_logging()


@pytest.fixture
def gauge(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/gauge.csv").respond_with_data(GAUGE, content_type="text/csv")
    return httpserver.url_for("/gauge.csv")


def test_tracker_run_rewrites_the_configured_site(tmp_path: Path, gauge: str) -> None:
    cfg = nightly_project(tmp_path, gauge, "public")
    ctx = service.load(str(cfg))
    assert nightly.run_nightly(ctx, now=NIGHT, ping=False) == 0
    out = tmp_path / "public"
    assert check_site(out) == []
    assert "as of 2026-06-01" in (out / "index.html").read_text()
    with Store(ctx.config.store_path) as store:
        run = store.runs(kind="run", limit=1)[0]
    assert run["status"] == "ok" and run["detail"]["site"] == {"out": str(out), "pages": 5, "charts": 3}
    assert "site written to" in ctx.config.path(ctx.config.log).read_text()
    page = (out / "indicators" / "gauge.html").read_text()
    assert 'href="https://stats.example.org/gauge/may"' in page and "May reading" in page


def test_a_failed_site_write_makes_the_run_partial_and_keeps_the_scores(tmp_path: Path, gauge: str) -> None:
    cfg = nightly_project(tmp_path, gauge, "public")
    (tmp_path / "public").write_text("a file where the site should go")
    ctx = service.load(str(cfg))
    assert nightly.run_nightly(ctx, now=NIGHT, ping=False) == 3
    with Store(ctx.config.store_path) as store:
        run = store.runs(kind="run", limit=1)[0]
        assert not store.score_history().empty                       # scoring stood
    assert run["status"] == "partial"
    assert run["detail"]["site_error"] == f"{tmp_path / 'public'}: exists and is not a folder; choose a folder " \
                                          "for the site"
    assert run["detail"]["states"] == {"gauge": "low"}
    log = ctx.config.path(ctx.config.log).read_text()
    assert "site not written to" in log and "site not written: " in log


def test_a_reader_during_nightly_rewrites_always_sees_a_whole_site(tmp_path: Path, gauge: str) -> None:
    cfg = nightly_project(tmp_path, gauge, "public")
    ctx = service.load(str(cfg))
    assert nightly.run_nightly(ctx, now=NIGHT, ping=False) == 0
    out = tmp_path / "public"
    done = threading.Event()
    codes: list[int] = []

    def rewrite() -> None:
        try:
            for k in range(1, 7):
                codes.append(nightly.run_nightly(ctx, now=NIGHT + dt.timedelta(days=k), ping=False))
        finally:
            done.set()

    writer = threading.Thread(target=rewrite)
    writer.start()
    reads, seen = 0, set()
    try:
        while not done.is_set() or reads < 5:
            assert check_site(out) == []
            seen.add(re.search(r"as of (\d{4}-\d\d-\d\d)", (out / "index.html").read_text()).group(1))
            reads += 1
            time.sleep(0.005)
    finally:
        writer.join(timeout=120)
    assert codes == [0] * 6
    assert reads > 20 and len(seen) >= 3                     # the reader really read across rewrites
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".public")) == []


def test_gather_reads_only(tmp_path: Path) -> None:
    """The views read the store; they never write it (the nightly run and ingest do)."""
    cfg = small_pack(tmp_path)
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        before = (store.vintage_log(), store.runs(limit=100), store.db.total_changes)
        data = site_view.gather(ctx, store, dt.date.fromisoformat(AS_OF))
        assert (store.vintage_log(), store.runs(limit=100), store.db.total_changes) == before
    assert set(data.indicators) == {"trade", "deal"}
    assert np.isfinite(data.indicators["trade"]["bits_over_time"]).all()



def test_a_pack_with_share_of_gets_its_site_with_the_share_charted(tmp_path: Path) -> None:
    """The site runs the pack's transforms for each chart; share_of reads the other indicator's
    series (it crashed with KeyError: -1 once the scorer's history became packed columns)."""
    states = [{"name": "low", "below": 50}, {"name": "high"}]
    lik = {"low": {"A": 0.2, "B": 0.5, "C": 0.8}, "high": {"A": 0.5, "B": 0.5, "C": 0.2}}
    part = numeric("part", "g", states, lik, transforms=[{"share_of": {"indicator": "total"}}])
    total = numeric("total", "h", states, lik)
    months = [f"2025-{m:02d}-28" for m in range(1, 13)]
    seeds = {"part": [{"date": d, "value": 40} for d in months], "total": [{"date": d, "value": 100} for d in months]}
    cfg = write_pack(tmp_path, scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {"g": 1.0, "h": 1.0}), [part, total], seeds)
    res = run_site(cfg, tmp_path / "out", "--as-of", "2026-01-15")
    assert res.exit_code == 0, res.output
    assert check_site(tmp_path / "out") == []
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        data = sitedata.gather(ctx, store, dt.date(2026, 1, 15))
    assert list(data.indicators["part"]["feature"]["values"]) == [40.0] * 12
