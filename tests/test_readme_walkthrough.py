"""The README's "Write your own pack", followed verbatim (issue 17, item 8).

In a fresh folder, every file the section shows is written exactly as shown (a line "`PATH`:"
followed by a fenced block) and every `sh` block is run by bash, in order, with this tracker
first on PATH: `tracker validate`, `tracker test` and `tracker score` must pass, and what the
prose says they print must be what they print. Then the live source is fetched for real, from
a loopback server answering in the World Bank's own format, and scored.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from tracker.pack import types

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "samples" / "worldbank-v2-indicator.json"
BLOCK = re.compile(r"^(?:`(?P<path>[^`\n]+)`:\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.M | re.S)


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Write your own pack\n")
    return text[start:text.index("\n## ", start + 1)]


def steps() -> list[tuple[str, str, str]]:
    """('file', path, content) and ('sh', '', script), in the order the section gives them."""
    out = []
    for m in BLOCK.finditer(section()):
        if m["path"]:
            out.append(("file", m["path"], m["body"]))
        elif m["lang"] == "sh":
            out.append(("sh", "", m["body"]))
    return out


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["COLUMNS"] = "80"
    return env


def follow(folder: Path) -> str:
    """Do what the section says, in `folder`; return everything the commands printed."""
    printed = []
    for kind, path, body in steps():
        if kind == "file":
            target = folder / path
            assert target.parent.is_dir(), f"the walk-through writes {path} before making its folder"
            target.write_text(body, encoding="utf-8")
            continue
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], cwd=folder, env=environment(),
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{body}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        assert "Traceback" not in done.stderr and not (folder / "tracker-crash.log").exists()
        printed.append(done.stdout)
    return "\n".join(printed)


def test_the_section_has_the_pack_the_issue_asks_for() -> None:
    files = {path for kind, path, _ in steps() if kind == "file"}
    assert files == {"config.yaml", "pack/scenarios.yaml", "pack/ecb-deposit-rate.yaml",
                     "seeds/ecb-deposit-rate.csv", "pack/ea-inflation.yaml", "pack/hike-path.yaml"}
    scripts = "\n".join(body for kind, _, body in steps() if kind == "sh")
    for command in ("tracker validate", "tracker test", "tracker score"):
        assert command in scripts


def test_following_the_walkthrough_gives_a_valid_tested_scored_pack(tmp_path: Path) -> None:
    printed = follow(tmp_path)
    lines = printed.splitlines()
    assert "OK: 3 indicators, 3 scenarios, 0 warnings" in lines          # as the prose says
    assert "SUCCESS: 4 tests passed." in lines
    assert any(re.match(r"A \(Hold at neutral\) leads at 0\.\d\d", line) for line in lines), printed
    assert any("no data yet" in line and "ea-inflation" in line for line in lines), printed
    for iid in ("ea-inflation", "ecb-deposit-rate", "hike-path"):
        assert any(line.startswith(f"{iid} (") for line in lines), iid   # tracker indicators


def test_the_prose_keeps_its_promises_about_seeds_and_errors(tmp_path: Path) -> None:
    """The seed error and the reload line quoted in the section are what tracker prints."""
    follow(tmp_path)
    text = " ".join(section().split())
    seed = tmp_path / "seeds" / "ecb-deposit-rate.csv"
    original = seed.read_text(encoding="utf-8")
    seed.write_text(original.replace("2024-10-17,3.25,", "2024-10-17,n/a,"), encoding="utf-8")
    broken = subprocess.run(["tracker", "validate"], cwd=tmp_path, env=environment(), capture_output=True,
                            text=True, timeout=300, check=False)
    assert broken.returncode == 2
    assert broken.stderr.splitlines()[0] in text
    seed.write_text(original.replace("2024-09-12,3.50,", "2024-09-12,3.55,"), encoding="utf-8")
    edited = subprocess.run(["tracker", "score"], cwd=tmp_path, env=environment(), capture_output=True, text=True,
                            timeout=300, check=False)
    assert edited.returncode == 0
    assert edited.stderr.strip() in text


def test_every_optional_key_of_a_pack_is_in_the_section() -> None:
    """scenario_order, stall_cap, the expect keys and the rest: each optional key is named."""
    text = section()
    records = (types.ScenarioSet, types.Scenario, types.Group, types.Indicator, types.IndicatorTest,
               types.GivenRow, types.Expect)
    optional = {f.name for r in records for f in dataclasses.fields(r)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    missing = sorted(k for k in optional if f"`{k}`" not in text)
    assert missing == []
    assert "--pack DIR" in text and "--config FILE" in text          # a pack outside the default folder


@pytest.fixture
def world_bank(httpserver: Any) -> str:
    """Euro area inflation as the World Bank's API v2 answers (the shape of the stored sample)."""
    template = json.loads(SAMPLE.read_text(encoding="utf-8"))[1][0]
    rows = []
    for year, value in {"2024": 2.4, "2023": 5.4, "2022": 8.4}.items():
        row = copy.deepcopy(template)
        row.update(indicator={"id": "FP.CPI.TOTL.ZG", "value": "Inflation, consumer prices (annual %)"},
                   country={"id": "XC", "value": "Euro area"}, countryiso3code="EMU", date=year, value=value)
        rows.append(row)
    meta = {"page": 1, "pages": 1, "per_page": 1000, "total": len(rows), "sourceid": "2", "lastupdated": "2026-07-01"}

    def answer(request: Request) -> Response:
        return Response(json.dumps([meta, rows]), content_type="application/json;charset=utf-8")

    httpserver.expect_request("/v2/country/EMU/indicator/FP.CPI.TOTL.ZG").respond_with_handler(answer)
    return httpserver.url_for("/v2")


def test_the_live_source_is_fetched_and_scored(tmp_path: Path, world_bank: str) -> None:
    """`tracker ingest` as the prose says, against a loopback World Bank (the pack's one change:
    the source's optional `url`)."""
    follow(tmp_path)
    pack = tmp_path / "pack" / "ea-inflation.yaml"
    text = pack.read_text(encoding="utf-8")
    pack.write_text(text.replace("  start: 2015\n", f"  start: 2015\n  url: {world_bank}\n"), encoding="utf-8")
    fetched = subprocess.run(["tracker", "ingest"], cwd=tmp_path, env=environment(), capture_output=True, text=True,
                             timeout=300, check=False)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    doc = json.loads(subprocess.run(["tracker", "indicators", "--json"], cwd=tmp_path, env=environment(),
                                    capture_output=True, text=True, timeout=300, check=True).stdout)
    last = {i["id"]: i["last_observation"] for i in doc["indicators"]}["ea-inflation"]
    assert (last["date"], last["value"]) == ("2024-12-31", 2.4)
    score = json.loads(subprocess.run(["tracker", "score", "--json"], cwd=tmp_path, env=environment(),
                                      capture_output=True, text=True, timeout=300, check=True).stdout)
    assert "ea-inflation" not in score["no_data"]
