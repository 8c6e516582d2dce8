"""config.yaml is checked as strictly as the pack: exact messages with line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.errors import InputError, ProblemsError
from tracker.pack.config_schema import load_config


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ProblemsError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("text", "messages"), [
    ("pack: indicators\nstroe: tracker.db\n",
     ["config.yaml:2:1: stroe: unknown field; did you mean 'store'?"]),
    ("pack: indicators\nschedule:\n  digest: 0 7 * * 0\n",
     ["config.yaml:3:11: schedule.digest: weekday '0': use names (mon … sun); "
      "APScheduler 3 reads 0 as Monday, cron as Sunday"]),
    ("pack: indicators\nschedule:\n  nightly: 30 4 * *\n",
     ["config.yaml:3:12: schedule.nightly: expected five cron fields (minute hour day month weekday), "
      "got '30 4 * *'"]),
    ("pack: indicators\ntimezone: Europe/Londn\n",
     ["config.yaml:2:11: timezone: unknown time zone 'Europe/Londn'; expected an IANA name such as "
      "Europe/London"]),
    ("store: tracker.db\n", ["config.yaml:1:1: pack: required field is missing"]),
    ("pack: indicators\nschedule:\n  misfire_grace: 6\n",
     ["config.yaml:3:18: schedule.misfire_grace: expected a duration such as 365d, 13w, 18M or 2y, "
      "got number 6"]),
    ("pack: indicators\ndigest:\n  from: a@example.org\n  to: [b@example.org]\n  smtp: {host: x, prot: 25}\n",
     ["config.yaml:5:19: digest.smtp.prot: unknown field; did you mean 'port'?"]),
    ("pack: indicators\nkeys: {comtrade: my-key}\n",
     ["config.yaml:2:18: keys.comtrade: expected the name of an environment variable (capitals, digits, "
      "'_'), got text 'my-key'"]),
    ("pack: indicators\ntimezone: NO\nhttp: {retries: 11, timeout: 0}\n",
     ["config.yaml:2:11: timezone: expected text, got boolean false; quote it: 'NO'",
      "config.yaml:3:17: http.retries: expected a number at most 10, got 11",
      "config.yaml:3:30: http.timeout: expected a number above 0, got 0"]),
    ("- pack\n", ["config.yaml:1:1: expected a mapping of settings"]),
    ("pack: indicators\npack: other\n", ["config.yaml:2:1: pack: duplicate key (first defined on line 1)"]),
])
def test_config_errors(tmp_path: Path, text: str, messages: list[str]) -> None:
    assert _problems(tmp_path, text) == messages


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_config(tmp_path / "config.yaml")
    assert str(caught.value) == (f"{tmp_path / 'config.yaml'}: config file not found "
                                 "(pass --config or run where config.yaml is)")


def test_valid_config_resolves_paths_from_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("pack: indicators\nschedule: {digest: '0 7 * * mon'}\nscoring: {window: 13w}\n")
    cfg = load_config(path)
    assert cfg.pack_dir == tmp_path.resolve() / "indicators"
    assert cfg.window_weeks == 13 and cfg.schedule.digest == "0 7 * * mon"
