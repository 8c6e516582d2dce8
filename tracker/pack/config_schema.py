"""The schema of config.yaml, checked as strictly as the pack, and its loader. Secrets are never
in the file: the file names environment variables, and `tracker.config.secret()` reads them at
the moment of use. The loader returns tracker.config.Config, which the rest of the code reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from tracker import config as config_types
from tracker.errors import InputError, Problem, ProblemsError
from tracker.pack.records import from_model
from tracker.pack.schema import Duration, HttpUrl, Lag, Strict
from tracker.pack.validation import validate
from tracker.pack.yamlload import YamlProblems, load_file

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron(text: str) -> str:
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"expected five cron fields (minute hour day month weekday), got {text!r}")
    for part in fields[4].lower().replace("-", ",").split(","):
        if part not in ("*", *WEEKDAYS) and not part.startswith("*/"):
            raise ValueError(
                f"weekday {part!r}: use names (mon … sun); APScheduler 3 reads 0 as Monday, cron as Sunday")
    return text


def _zone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}; expected an IANA name such as Europe/London") from None
    return text


Cron = Annotated[str, AfterValidator(_cron)]
Zone = Annotated[str, AfterValidator(_zone)]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]


def _folder(text: str) -> str:
    """A `data_dirs:` entry: an empty one would mean config.yaml's own folder, by accident."""
    if not text.strip() or "\0" in text:
        raise ValueError(f"expected the path of a folder, got {text!r}")
    return text


Folder = Annotated[str, AfterValidator(_folder)]


class Scoring(Strict):
    window: Duration = "13w"
    min_shift: Annotated[float, Field(gt=0, lt=1)] = 0.05
    exit_shift: Annotated[float, Field(gt=0, lt=1)] = 0.025
    min_coverage: Annotated[float, Field(ge=0, le=1)] = 0.5
    max_concentration: Annotated[float, Field(gt=0, le=1)] = 0.75
    min_new_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    history: Duration = "3y"
    """How far back the weekly grid starts before the date scored (trend memory)."""
    cooldown: Lag = "13w"
    """A new call for a scenario within this long of its last call's end continues that episode."""
    max_lead: Duration = "26w"
    """`tracker evaluate`: a call may begin at most this long before a period of its scenario and
    still count as a hit (a call during the period is a hit too)."""


class Http(Strict):
    timeout: Annotated[float, Field(gt=0)] = 20.0
    connect_timeout: Annotated[float, Field(gt=0)] = 5.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    deadline: Annotated[float, Field(gt=0)] = 300.0
    max_bytes: Annotated[int, Field(gt=0)] = 50_000_000
    workers: Annotated[int, Field(ge=1, le=64)] = 8
    per_host: Annotated[int, Field(ge=1, le=16)] = 2
    min_interval: dict[str, Annotated[float, Field(ge=0)]] = {"api.gdeltproject.org": 5.0}


class Schedule(Strict):
    nightly: Cron = "30 4 * * *"
    digest: Cron = "0 7 * * mon"
    misfire_grace: Duration = "0.25d"


class Smtp(Strict):
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    timeout: Annotated[float, Field(gt=0)] = 30.0
    ca_file: str | None = None
    """Extra CA bundle to trust (a private relay); verification itself cannot be turned off."""


def _address(text: str) -> str:
    """One mailbox as From: and To: take it (`name@example.org`, `Name <name@example.org>`),
    checked here so that a CR/LF never reaches a header (a crash, or a header injected) and a
    list in one entry is not sent to silently. ASCII only: the sender does not use SMTPUTF8."""
    from email.headerregistry import HeaderRegistry

    from tracker.text import has_controls

    if has_controls(text):
        raise ValueError(f"expected an e-mail address on one line, without control characters; got {text!r}")
    try:
        header = HeaderRegistry()("to", text)
        boxes, defects = header.addresses, header.defects
        grouped = any(g.display_name is not None for g in header.groups)
    except Exception:  # noqa: BLE001 — the stdlib parser fails in undocumented ways ('a@': IndexError)
        boxes, defects, grouped = (), ("unparsable",), False
    if len(boxes) > 1:
        raise ValueError(f"expected one e-mail address, got {len(boxes)} in {text!r}; list each on its own")
    if len(boxes) == 1 and not boxes[0].addr_spec.isascii():
        raise ValueError("expected an ASCII address (tracker does not use SMTPUTF8; write an internationalised "
                         f"domain in its xn-- form), got {text!r}")
    if len(boxes) != 1 or defects or grouped or not boxes[0].username or not boxes[0].domain:
        raise ValueError(f"expected an e-mail address such as analysts@example.org or "
                         f"'Name <analysts@example.org>', got {text!r}")
    return text


Address = Annotated[str, AfterValidator(_address)]


class Digest(Strict):
    sender: Annotated[Address, Field(alias="from")]
    to: Annotated[list[Address], Field(min_length=1)]
    subject: str = "tracker digest: {pack} — week of {week}"
    smtp: Smtp
    alerts_to: list[Address] = []


class Site(Strict):
    out: Folder
    """The folder `tracker run` rewrites with the static site after scoring (issue 19)."""


class Config(Strict):
    pack: str
    store: str = "tracker.db"
    timezone: Zone = "UTC"
    log: str = "tracker.log"
    scoring: Scoring = Scoring()
    http: Http = Http()
    schedule: Schedule = Schedule()
    digest: Digest | None = None
    ping_url: HttpUrl | None = None
    keys: dict[str, EnvName] = {}
    """API keys: name used by a source's `api_key:` → environment variable holding it."""
    stale_after: Duration = "1.5d"
    """`tracker status` fails when the last good nightly run is older than this."""
    empty_after: Annotated[int, Field(ge=1, le=366)] = 7
    """A source whose answers held no data on this many nights in a row is failing (issue 15)."""
    data_dirs: list[Folder] = []
    """Folders outside the project that `file` sources may read (none other)."""
    site: Site | None = None
    """Where the nightly run writes the static site; absent: it writes none."""


def load_config(path: Path) -> config_types.Config:
    """Load config.yaml; every problem in one pass with its line, or InputError if missing."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found (pass --config or run where config.yaml is)")
    try:
        data, marks = load_file(path, path.name, what="a config file")
    except YamlProblems as exc:
        raise ProblemsError(exc.problems) from None
    if not isinstance(data, dict):
        raise ProblemsError([Problem(path.name, 1, 1, "", "expected a mapping of settings")])
    cfg, problems = validate(Config, data, path.name, marks)
    if problems:
        raise ProblemsError(problems)
    return dataclasses.replace(from_model(cfg), base_dir=path.resolve().parent)
