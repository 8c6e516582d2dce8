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


DIGEST = ("pack: indicators\ndigest:\n  from: {sender}\n  to: [{to}]\n  alerts_to: [{alert}]\n"
          "  smtp: {{host: localhost}}\n")
ONE_LINE = "expected an e-mail address on one line, without control characters; got "


@pytest.mark.parametrize(("sender", "to", "alert", "messages"), [
    ('"tracker@example.org\\r\\nBcc: spy@example.org"', "a@example.org", "b@example.org",
     [f"config.yaml:3:9: digest.from: {ONE_LINE}'tracker@example.org\\r\\nBcc: spy@example.org'"]),
    ("tracker@example.org", '"a@example.org\\nBcc: spy@example.org"', '"b@example.org\\e[2J"',
     [f"config.yaml:4:8: digest.to[0]: {ONE_LINE}'a@example.org\\nBcc: spy@example.org'",
      f"config.yaml:5:15: digest.alerts_to[0]: {ONE_LINE}'b@example.org\\x1b[2J'"]),
    ("tracker@example.org", "'a@example.org, spy@example.org'", "b@example.org",
     ["config.yaml:4:8: digest.to[0]: expected one e-mail address, got 2 in 'a@example.org, spy@example.org'; "
      "list each on its own"]),
    ("not an address", "a@", "b@example.org",
     ["config.yaml:3:9: digest.from: expected an e-mail address such as analysts@example.org or "
      "'Name <analysts@example.org>', got 'not an address'",
      "config.yaml:4:8: digest.to[0]: expected an e-mail address such as analysts@example.org or "
      "'Name <analysts@example.org>', got 'a@'"]),
    ("jürgen@example.org", "a@example.org", "b@example.org",
     ["config.yaml:3:9: digest.from: expected an ASCII address (tracker does not use SMTPUTF8; write an "
      "internationalised domain in its xn-- form), got 'jürgen@example.org'"]),
])
def test_digest_addresses_are_checked(tmp_path: Path, sender: str, to: str, alert: str, messages: list[str]) -> None:
    assert _problems(tmp_path, DIGEST.format(sender=sender, to=to, alert=alert)) == messages


def test_digest_addresses_may_have_a_display_name(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(DIGEST.format(sender="'Tracker Bot <tracker@example.org>'", to="root@localhost",
                                  alert="'Jürgen <j@example.org>'"))
    cfg = load_config(path).digest
    assert (cfg.sender, cfg.to, cfg.alerts_to) == ("Tracker Bot <tracker@example.org>", ["root@localhost"],
                                                   ["Jürgen <j@example.org>"])
