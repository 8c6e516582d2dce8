"""Every malformed pack in tests/corpus/ gives exactly the messages listed here, in one pass.

Each case folder holds only the files that differ from tests/corpus/_base/ (see its README);
the test lays the base pack and the case over each other in a temporary folder, loads it and
compares the full message list, so a changed word, line or column is a failing test.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tracker.errors import ProblemsError
from tracker.pack.load import load_pack
from tracker.pack.yamlload import YamlProblems, load_text

CORPUS = Path(__file__).parent / "corpus"

CASES: dict[str, list[str]] = {
    "bad-duration": [
        'indicators/trade.yaml:20:12: half_life: expected a duration such as 365d, 13w, 18M or 2y, got '
        'number 12',
        'indicators/trade.yaml:21:14: stale_after: expected a duration such as 365d, 13w, 18M or 2y, got '
        "text '2 years'",
    ],
    "date-where-number": [
        "indicators/trade.yaml:12:28: states[0].below: expected a number, got text '2025-03-31'",
    ],
    "duplicate-indicator-id": [
        "indicators/trade2.yaml:1:5: id: 'trade' is already used by indicators/trade.yaml",
    ],
    "duplicate-key": [
        'indicators/trade.yaml:20:1: weight: duplicate key (first defined on line 19)',
    ],
    "duplicate-scenario-id": [
        "indicators/scenarios.yaml:8:9: scenarios[1].id: duplicate scenario id 'A'",
    ],
    "empty-file": [
        'indicators/notes.yaml:1:1: the file is empty; expected a mapping of fields (id, name, group, '
        'source, …)',
    ],
    "frequency-pandas-m": [
        'indicators/trade.yaml:5:12: frequency: expected daily, weekly, monthly, quarterly, annual, '
        "irregular or a pandas frequency such as ME, QE or W-FRI; got 'M', which pandas 3 spells 'ME'",
    ],
    "invalid-yaml": [
        "indicators/trade.yaml:17:9: invalid YAML: {lib}",
    ],
    "likelihood-infinite": [
        'indicators/trade.yaml:18:23: likelihood.rising.B: expected a finite number, got number inf',
    ],
    "likelihood-row-missing-scenario": [
        'indicators/trade.yaml:17:11: likelihood.stable: missing scenario C; each row needs A, B, C',
    ],
    "likelihood-unknown-state": [
        "indicators/trade.yaml:18:3: likelihood.rsing: unknown state 'rsing'; did you mean 'rising'?",
    ],
    "likelihood-zero": [
        'indicators/trade.yaml:16:24: likelihood.falling.B: expected a number above 0, got number 0: a '
        "zero rules the scenario out for good, whatever is seen later (Cromwell's rule); use a small "
        'number such as 0.01',
    ],
    "many-mistakes": [
        "indicators/broken.yaml:3:1: invalid YAML: {lib}",
        "indicators/news.yaml:3:8: group: unknown group 'news'; expected one of: trade, pos2",
        "indicators/news.yaml:8:3: likelihood.clam: unknown state 'clam'; did you mean 'calm'?",
        'indicators/news.yaml:9:12: rationale: expected at least 20 characters, got 5',
        "indicators/pos2.yaml:2:7: name: expected text, got boolean false; quote it: 'NO'",
        "indicators/pos2.yaml:6:43: levels[3]: duplicate level 'price_agreed'",
        'indicators/pos2.yaml:11:7: pace: missing scenario C; expected a typical time to the next level '
        'for each scenario (A, B, C)',
        'indicators/scenarios.yaml:4:3: scenarios: the priors sum to 1.05; expected 1',
        "indicators/scenarios.yaml:23:5: groups.pos2.wieght: unknown field; did you mean 'weight'?",
        "indicators/trade.yaml:3:8: group: unknown group 'trad'; did you mean 'trade'?",
        'indicators/trade.yaml:5:12: frequency: expected daily, weekly, monthly, quarterly, annual, '
        "irregular or a pandas frequency such as ME, QE or W-FRI; got 'M', which pandas 3 spells 'ME'",
        'indicators/trade.yaml:17:11: likelihood.stable: missing scenario C; each row needs A, B, C',
        'indicators/trade.yaml:20:12: half_life: expected a duration such as 365d, 13w, 18M or 2y, got '
        'number 12',
        "indicators/trade.yaml:25:21: tests[0].expect.state: unknown state 'up'; expected one of: falling, "
        'stable, rising',
    ],
    "missing-required": [
        'indicators/trade.yaml:1:1: name: required field is missing',
    ],
    "non-utf8": [
        'indicators/trade.yaml:2:27: not valid UTF-8 text (byte 0xe9); save the file as UTF-8',
    ],
    "norway-boolean": [
        "indicators/scenarios.yaml:12:9: scenarios[2].id: expected text, got boolean false; quote it: 'NO'",
    ],
    "numeric-with-levels": [
        'indicators/trade.yaml:5:9: levels: only ordinal indicators (kind: ordinal) have levels',
    ],
    "ordinal-duplicate-levels": [
        "indicators/pos2.yaml:6:29: levels[2]: duplicate level 'memorandum'",
    ],
    "ordinal-live-source": [
        'indicators/pos2.yaml:5:16: source.kind: ordinal indicators are recorded by analysts: expected '
        "manual or file, got 'csv'",
    ],
    "ordinal-pace-missing-scenario": [
        'indicators/pos2.yaml:11:7: pace: missing scenario C; expected a typical time to the next level '
        'for each scenario (A, B, C)',
        "indicators/pos2.yaml:11:23: pace.D: unknown scenario 'D'; expected one of: A, B, C",
    ],
    "ordinal-without-pace": [
        'indicators/pos2.yaml:1:1: pace: required for an ordinal indicator: the typical time to the next '
        'level under each scenario (A, B, C)',
    ],
    "priors-not-summing": [
        'indicators/scenarios.yaml:4:3: scenarios: the priors sum to 1.1; expected 1',
    ],
    "resample-freq-pandas-m": [
        'indicators/trade.yaml:9:22: transforms[0].resample.freq: expected a pandas frequency such as ME, '
        "QE or W-FRI; got 'M', which pandas 3 spells 'ME'",
    ],
    "scenario-order-wrong": [
        'indicators/scenarios.yaml:16:17: scenario_order: expected each scenario id once (A, B, C), got C, A',
    ],
    "seed-missing": [
        'indicators/trade.yaml:7:7: seed: file not found: seeds/trade-history.csv (seed paths start from '
        'the folder that holds the pack)',
    ],
    "seed-wrong-columns": [
        'indicators/trade.yaml:7:7: seed: seeds/trade.csv lacks column value; expected columns date, '
        'value, published, source_url, note',
    ],
    "share-of-unknown-indicator": [
        "indicators/trade.yaml:10:27: transforms[1].share_of.indicator: unknown indicator 'trade-totl'; "
        "did you mean 'trade'?",
    ],
    "source-field-typo": [
        "indicators/trade.yaml:6:21: source.urll: unknown field; did you mean 'url'?",
    ],
    "tab-indent": [
        'indicators/pos2.yaml:8:1: invalid YAML: {lib} (a tab: YAML indents with spaces only)',
    ],
    "test-expect-contradiction": [
        'indicators/pos2.yaml:16:13: tests[0].expect: no_data: true cannot be combined with state or value',
    ],
    "test-given-without-value": [
        "indicators/trade.yaml:24:45: tests[0].given[1]: missing value: a numeric indicator's test rows "
        'need a number',
    ],
    "test-unknown-level": [
        "indicators/pos2.yaml:15:39: tests[0].given[0].level: unknown level 'memorandom'; did you mean "
        "'memorandum'?",
    ],
    "test-unknown-state": [
        "indicators/trade.yaml:25:21: tests[0].expect.state: unknown state 'rissing'; did you mean 'rising'?",
    ],
    "top-level-list": [
        'indicators/extra.yaml:1:1: expected a mapping of fields at the top of the file, got a list',
    ],
    "transform-param-type": [
        "indicators/trade.yaml:11:23: transforms[2].change.periods: expected a whole number, got '4'",
    ],
    "two-documents": [
        "indicators/pos2.yaml:17:1: invalid YAML: expected a single document, but found another one ('---')",
    ],
    "unknown-group": [
        "indicators/trade.yaml:3:8: group: unknown group 'trad'; did you mean 'trade'?",
    ],
    "unknown-key": [
        "indicators/trade.yaml:19:1: weigth: unknown field; did you mean 'weight'?",
    ],
    "unknown-source-kind": [
        "indicators/trade.yaml:6:16: source.kind: unknown source kind 'cvs'; did you mean 'csv'?",
    ],
    "unknown-transform": [
        "indicators/trade.yaml:11:13: transforms[2].chnage: unknown transform; did you mean 'change'?; "
        'expected one of: resample, rolling, change, pct_change, yoy, zscore, share_of',
    ],
    "weight-above-one": [
        'indicators/trade.yaml:19:9: weight: expected a number at most 1, got 1.5',
    ],
}


def _pack(tmp_path: Path, case: str) -> Path:
    shutil.copytree(CORPUS / "_base", tmp_path, dirs_exist_ok=True)
    shutil.copytree(CORPUS / case, tmp_path, dirs_exist_ok=True)
    return tmp_path / "indicators"


def _messages(folder: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_pack(folder)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def _same(actual: list[str], expected: list[str]) -> bool:
    """Exact, except that `{lib}` stands for a reason worded by PyYAML or Python, not by the tool:
    those words change between library versions (PyYAML 6.0.4 broke CI this way), the tool's
    prefix, position and field path around them must not."""
    patterns = [re.escape(e).replace(re.escape("{lib}"), ".+") for e in expected]
    return len(actual) == len(expected) and all(re.fullmatch(p, a) for p, a in zip(patterns, actual, strict=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_reports_exactly(tmp_path: Path, case: str) -> None:
    messages = _messages(_pack(tmp_path, case))
    assert _same(messages, CASES[case]), messages


def test_every_corpus_folder_has_a_case() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "_base"}
    assert folders == set(CASES)
    assert len(folders) >= 25


def test_base_pack_is_valid(tmp_path: Path) -> None:
    pack = load_pack(_pack(tmp_path, "_base"))
    assert sorted(pack.indicators) == ["pos2", "trade"]
    assert pack.line_of("trade", ("tests", 0)) == "indicators/trade.yaml:24"


def test_many_mistakes_come_out_in_one_pass(tmp_path: Path) -> None:
    """The point of the loader: files that fail the schema are still cross-checked."""
    files = {m.split(":")[0] for m in _messages(_pack(tmp_path, "many-mistakes"))}
    assert files == {f"indicators/{name}.yaml" for name in ("broken", "news", "pos2", "scenarios", "trade")}


def test_missing_scenarios_file(tmp_path: Path) -> None:
    folder = _pack(tmp_path, "_base")
    (folder / "scenarios.yaml").unlink()
    assert _messages(folder) == ["indicators/scenarios.yaml: missing: every pack needs scenarios.yaml"]


def test_missing_pack_folder(tmp_path: Path) -> None:
    assert _messages(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: pack folder not found"]


def test_pack_without_indicators(tmp_path: Path) -> None:
    folder = _pack(tmp_path, "_base")
    for name in ("trade.yaml", "pos2.yaml"):
        (folder / name).unlink()
    assert _messages(folder) == ["indicators: no indicator files (*.yaml) in the pack"]


@pytest.mark.parametrize(("text", "message"), [
    ("a: &x [*x]\n", "f.yaml:1:4: a[0]: a value cannot contain itself (recursive alias)"),
    ("a: &a [1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
               for p, c in zip("bcdef", "cdefg", strict=True)),
     "f.yaml:1:1: the document nests or expands too far to be a pack (recursive or exponential aliases?)"),
    ("[" * 3000 + "]" * 3000,
     "f.yaml:1:1: the document nests or expands too far to be a pack (recursive or exponential aliases?)"),
    ("a: 1\nb: \x07\n", "f.yaml:2:4: invalid YAML: control character U+0007 is not allowed in a YAML file"),
    ("a: !!python/object:os.system x\n",
     "f.yaml:1:4: a: invalid value: {lib}"),
    ("a: !!int x\n", "f.yaml:1:4: a: invalid value: {lib}"),
    ("? [a]\n: 1\n", "f.yaml:1:3: a key must be plain text, not a list or mapping"),
    ("<<: 5\n", "f.yaml:1:1: invalid merge (<<): {lib}"),
])
def test_hostile_yaml_is_a_problem_not_a_crash(text: str, message: str) -> None:
    with pytest.raises(YamlProblems) as caught:
        load_text(text, "f.yaml")
    messages = [str(p) for p in caught.value.problems]
    assert _same(messages, [message]), messages


def test_yaml_keeps_dates_and_key_text() -> None:
    """PITFALLS §2.4: dates stay text; `on:`/`no:` stay keys; a duplicate keeps the first value."""
    value, marks = load_text("on: 2024-01-31\nno: NO\n", "f.yaml")
    assert value == {"on": "2024-01-31", "no": False}
    assert marks.at(("no",)) == (2, 5) and marks.at(("no",), key=True) == (2, 1)
    with pytest.raises(YamlProblems) as caught:
        load_text("w: 1\nw: 2\n", "f.yaml")
    assert caught.value.partial is not None and caught.value.partial[0] == {"w": 1}


def test_a_bom_is_skipped_and_positions_follow_it(tmp_path: Path) -> None:
    from tracker.pack.yamlload import load_file

    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\nname: caf\xe9\n")
    with pytest.raises(YamlProblems) as caught:
        load_file(path, "x.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "x.yaml:2:10: not valid UTF-8 text (byte 0xe9); save the file as UTF-8"]
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_file(path, "x.yaml")[0] == {"a": 1}
