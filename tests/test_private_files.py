"""Nothing private is echoed (issue 16, item 7).

An outside probe found that a `file` source with an absolute or `~` path read any file the user
could, and that its first line came back in the error, which is printed, logged, stored and
shown in the digest: a fake `AWS_SECRET_ACCESS_KEY=` line was read that way. So:

* a `file` source reads only inside the project folder (config.yaml's, and the pack's) or a
  folder that config.yaml lists under `data_dirs:`; anything else (absolute, `~`, `..`, or a
  symbolic link that leads out) is that source's failure, and the file is never opened (an
  audit hook in the real CLI process watches every `open`);
* no error quotes more of a file or an answer than a short, sanitised excerpt: a header
  holding a secret, a 100 KB line of NULs, and secrets in the places each parser quotes from
  an answer (a header, a body, an API message, a first line, JSON keys).

Everything runs as the real `tracker` command in its own process against a real SQLite store
and loopback HTTP; then stdout, stderr, tracker.log, every TEXT column and the raw store
files, and the digest's .eml (decoded) and .html are searched for the secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_helpers import Sources, cli_env, csv_body, indicator, text_columns, write_project

from tracker.errors import ProblemsError
from tracker.pack.config_schema import load_config

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9"
SECRET_LINE = f"AWS_SECRET_ACCESS_KEY={SECRET}"
FRAGMENTS = (SECRET, SECRET[:12], SECRET[-12:])
"""The secret, and a piece of either end of it: a cut-off echo is a leak too."""
NULS = b"\0" * 100_000

PROBE = r"""
import os, sys
watched = {os.path.realpath(p) for p in sys.argv[1].split(os.pathsep)}
opened = []

def hook(event, args):
    # every open() of the process, in every thread; realpath opens nothing itself
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        if os.path.realpath(os.fsdecode(args[0])) in watched:
            opened.append(os.fsdecode(args[0]))

sys.addaudithook(hook)
from tracker.cli import main
code = 0
try:
    main(sys.argv[3:], prog_name="tracker")
except SystemExit as exc:
    code = exc.code
with open(sys.argv[2], "a") as fh:
    fh.write("".join(f"{p}\n" for p in opened))
sys.exit(code)
"""
"""The real CLI in its own process, with an audit hook recording every open() of a watched file."""


def watched_tracker(*args: str, watch: list[Path], opened: Path, cwd: Path,
                    env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE, os.pathsep.join(map(str, watch)), str(opened), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def refused(path: str, folder: Path) -> str:
    return (f"file {path}: outside the project folder and data_dirs, so it was not read; to allow it, "
            f"add {folder} to data_dirs: in config.yaml")


def route(status: int, ctype: str, body: bytes) -> Any:
    return lambda handler, query: (status, ctype, body)


# ---------------------------------------------------------------- the cases


def private_files(tmp_path: Path) -> dict[str, Path]:
    """Files outside the project that hold the secret (as ~/.aws/credentials would)."""
    home, private = tmp_path / "home", tmp_path / "private"
    home.mkdir()
    private.mkdir()
    text = f"{SECRET_LINE}\n"
    files = {"home": home / "credentials.csv", "private": private / "credentials.csv"}
    for path in files.values():
        path.write_text(text)
    return files


def file_cases(project: Path, private: dict[str, Path]) -> dict[str, str]:
    """Indicator id → `path:` of the file sources, their files written (one good one inside)."""
    data = project / "data"
    data.mkdir()
    (data / "table.csv").write_bytes(csv_body(1, 0))
    (data / "link.csv").symlink_to(private["private"])
    (data / "header.csv").write_text(f"date,{SECRET_LINE}\n2024-01-31,1\n")
    (data / "firstline.csv").write_text(f"{SECRET_LINE}\n")
    (data / "nul.csv").write_bytes(NULS + b",value\n2024-01-31,1\n")
    return {"f-absolute": str(private["private"]), "f-home": "~/credentials.csv", "f-link": "data/link.csv",
            "f-dotdot": "../private/credentials.csv", "f-header": "data/header.csv",
            "f-firstline": "data/firstline.csv", "f-nul": "data/nul.csv", "ok-inside": "data/table.csv"}


def answer_cases(src: Sources) -> dict[str, dict[str, Any]]:
    """Indicator id → a source whose loopback answer holds the secret where its parser quotes."""
    sipri = base64.b64encode(f"{SECRET_LINE}\nSupplier,Recipient\n".encode()).decode()
    src.routes.update({
        "/header.csv": route(200, "text/csv", f"date,{SECRET_LINE}\n2024-01-31,1\n".encode()),
        "/gone.csv": route(404, "text/plain", f"no such table; {SECRET}".encode()),
        "/keys.json": route(200, "application/json", json.dumps({"rows": [], SECRET_LINE: 1}).encode()),
        "/imf/data/dataflow/IMF.STA/IMTS/1.0.0/A.B": route(200, "text/html",
                                                          f"<html>{SECRET_LINE}</html>".encode()),
        "/gdelt": route(200, "text/html", NULS + f"\n{SECRET_LINE}".encode()),
        "/wb/country/CHN/indicator/X.Y": route(200, "application/json", json.dumps(
            [{"message": [{"id": "120", "key": "Invalid value", "value": SECRET_LINE}]}]).encode()),
        "/ct/public/v1/preview/C/A/HS": route(200, "application/json",
                                              json.dumps({"error": SECRET_LINE}).encode()),
        "/sipri": route(200, "application/json", json.dumps({"bytes": sipri}).encode()),
    })
    recent = (dt.date.today() - dt.timedelta(days=20)).isoformat()
    return {
        "a-csv-header": {"kind": "csv", "url": f"{src.url}/header.csv"},
        "a-http-404": {"kind": "csv", "url": f"{src.url}/gone.csv"},
        "a-json-keys": {"kind": "json", "url": f"{src.url}/keys.json", "records": "data"},
        "a-imf-html": {"kind": "imf", "key": "A.B", "url": f"{src.url}/imf"},
        "a-gdelt-text": {"kind": "gdelt", "query": "x", "start": recent, "url": f"{src.url}/gdelt"},
        "a-worldbank": {"kind": "worldbank", "country": "CHN", "indicator": "X.Y", "url": f"{src.url}/wb"},
        "a-comtrade": {"kind": "comtrade", "reporter": 156, "partner": 643, "flow": "X", "periods": [2023],
                       "url": f"{src.url}/ct"},
        "a-sipri": {"kind": "sipri", "supplier": "Russia", "recipient": "China", "start": 2020, "end": 2021,
                    "url": f"{src.url}/sipri"},
    }


def eml_texts(path: Path) -> str:
    """Every text part of a .eml, decoded (base64 or quoted-printable would hide a raw search)."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join([str(msg["Subject"]), *parts])


# ---------------------------------------------------------------- the main test


def test_no_private_file_is_read_and_no_secret_is_echoed(tmp_path: Path) -> None:
    private = private_files(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    paths = file_cases(project, private)
    opened = tmp_path / "opened.txt"
    opened.write_text("")
    watch = [*private.values(), project / "data" / "link.csv"]
    env = cli_env(HOME=str(tmp_path / "home"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return watched_tracker(*args, "--config", str(cfg), watch=watch, opened=opened, cwd=project, env=env)

    with Sources(latency=0.0) as src:
        answers = answer_cases(src)
        inds = [indicator(i, {"kind": "file", "path": p}) for i, p in paths.items()]
        inds += [indicator(i, source) for i, source in answers.items()]
        cfg = write_project(project, inds)
        outs = {"ingest": run("ingest", "--json"), "run": run("run")}  # `run` writes tracker.log
    outs |= {"digest": run("digest", "--out", str(tmp_path / "out")), "status": run("status")}

    places: dict[str, str] = {}
    for name, out in outs.items():
        places[f"{name} stdout"], places[f"{name} stderr"] = out.stdout, out.stderr
    places["tracker.log"] = (project / "tracker.log").read_text(errors="replace")
    for table, column, value in text_columns(project / "tracker.db"):
        places[f"store {table}.{column}"] = places.get(f"store {table}.{column}", "") + "\n" + value
    for path in project.glob("tracker.db*"):
        places[f"file {path.name}"] = path.read_bytes().decode("latin-1")
    written = sorted((tmp_path / "out").iterdir())
    for path in written:
        if path.suffix == ".eml":
            places[f"digest {path.name} (decoded)"] = eml_texts(path)
        if path.suffix in (".eml", ".html"):
            places[f"digest {path.name}"] = path.read_text(errors="replace")
    leaks = sorted({where for where, text in places.items() for piece in FRAGMENTS if piece in text})
    nuls = sorted(where for where, text in places.items()  # a raw SQLite file is full of zero bytes
                  if not where.startswith("file ") and ("\0" * 8 in text or "\\x00" * 8 in text))
    opens = opened.read_text().split()
    results = {r["indicator"]: r for r in json.loads(outs["ingest"].stdout)["results"]}
    cases = [i for i in results if not i.startswith("ok-")]
    print(f"\nsecret-echo: {len(cases)} cases (4 private paths: absolute, ~, symlink, ..; "
          f"{len(cases) - 4} secrets or a 100 KB NUL line where a parser quotes a file or an answer) "
          f"searched in {len(places)} places (stdout, stderr, log, store tables and files, digest .eml "
          f"and .html): secret found in {len(leaks)}, NULs echoed in {len(nuls)}, private files opened "
          f"{len(opens)} times")
    assert leaks == [] and nuls == [] and opens == [], (leaks, nuls, opens)

    # the private paths were refused, each with the folder that would allow it
    for iid, target in {"f-absolute": private["private"], "f-home": private["home"],
                        "f-link": private["private"], "f-dotdot": private["private"]}.items():
        assert results[iid]["status"] == "failed"
        assert results[iid]["error"] == refused(paths[iid], target.parent), results[iid]["error"]
    # every other case failed too, with a short message that still names the columns
    assert [i for i in cases if results[i]["status"] != "failed"] == [], results
    errors = {i: results[i]["error"] for i in cases}
    assert errors["f-header"] == "file data/header.csv: no column 'value' (columns: date, AWS_SECRET_ACCESS_KEY=***)"
    assert errors["a-csv-header"].endswith("(columns: date, AWS_SECRET_ACCESS_KEY=***)")
    assert max(len(e) for e in errors.values()) < 300, max(errors.values(), key=len)
    assert results["ok-inside"]["status"] == "new" and results["ok-inside"]["rows"] == 24
    assert outs["ingest"].returncode == 3 and outs["run"].returncode == 3, outs["run"].stderr
    assert outs["digest"].returncode == 0 and {p.suffix for p in written} >= {".eml", ".html"}
    shown = [text for where, text in places.items() if where.endswith("(decoded)")]
    assert len(shown) == 1 and refused(paths["f-home"], private["home"].parent) in shown[0]
    assert outs["status"].returncode == 0 and "f-absolute" in outs["status"].stdout


def test_data_dirs_let_file_sources_read_outside_the_project(tmp_path: Path) -> None:
    """Folders listed in `data_dirs:` (relative to config.yaml's folder, absolute, or reached by a
    link in the project) are read; a sibling folder not listed still is not."""
    project, shared, elsewhere = tmp_path / "project", tmp_path / "shared", tmp_path / "elsewhere"
    for n, folder in enumerate((shared, elsewhere, tmp_path / "private"), start=1):
        folder.mkdir()
        (folder / "table.csv").write_bytes(csv_body(n, 0))
    (project / "data").mkdir(parents=True)
    (project / "data" / "shared").symlink_to(shared)
    paths = {"relative": "../shared/table.csv", "absolute": str(elsewhere / "table.csv"),
             "linked": "data/shared/table.csv", "private": "../private/table.csv"}
    cfg = write_project(project, [indicator(i, {"kind": "file", "path": p}) for i, p in paths.items()],
                        data_dirs=["../shared", str(elsewhere)])
    out = watched_tracker("ingest", "--json", "--config", str(cfg), watch=[], opened=tmp_path / "opened.txt",
                          cwd=project, env=cli_env())
    assert out.returncode == 3, out.stderr
    results = {r["indicator"]: r for r in json.loads(out.stdout)["results"]}
    assert {i: (r["status"], r["rows"]) for i, r in results.items()} == {
        "relative": ("new", 24), "absolute": ("new", 24), "linked": ("new", 24), "private": ("failed", None)}
    assert results["private"]["error"] == refused(paths["private"], tmp_path / "private")


# ---------------------------------------------------------------- data_dirs in config.yaml


def test_data_dirs_are_resolved_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"pack: indicators\ndata_dirs: [../shared, {tmp_path / 'abs'}, ~/data]\n")
    cfg = load_config(path)
    assert cfg.data_dirs == ["../shared", str(tmp_path / "abs"), "~/data"]
    assert cfg.data_paths == [(tmp_path.parent / "shared").resolve(), (tmp_path / "abs").resolve(),
                              Path("~/data").expanduser().resolve()]


@pytest.mark.parametrize(("text", "message"), [
    ("data_dirs: /srv/data\n", "config.yaml:2:12: data_dirs: expected a list, got text '/srv/data'"),
    ("data_dirs: ['']\n", "config.yaml:2:13: data_dirs[0]: expected the path of a folder, got ''"),
    ("data_dirs: [3]\n", "config.yaml:2:13: data_dirs[0]: expected text, got number 3; quote it: '3'"),
])
def test_data_dirs_errors_have_their_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("pack: indicators\n" + text)
    with pytest.raises(ProblemsError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [message]


def test_the_readme_documents_data_dirs() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    config = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert "data_dirs:" in config and yaml.safe_load(config.split("```yaml", 1)[1].split("```")[0])["data_dirs"]
