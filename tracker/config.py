"""The validated config.yaml as plain dataclasses, and where the config file is found.

pack/config_schema.py checks the file with pydantic and returns these; like pack/types.py they exist so
that a command finding config and pack unchanged (load_cache.py) never imports pydantic.
Field names and defaults mirror pack/config_schema.py one for one (tests/test_pack_types.py holds them
equal).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tracker.durations import parse_days

DEFAULT_NAME = "config.yaml"

plain = dataclass(kw_only=True)
"""Not frozen: a frozen dataclass costs twice as much to define, and start-up counts (nothing
writes to a record after loading)."""


@plain
class Scoring:
    window: str = "13w"
    min_shift: float = 0.05
    exit_shift: float = 0.025
    min_coverage: float = 0.5
    max_concentration: float = 0.75
    min_new_share: float = 0.5
    history: str = "3y"
    """How far back the weekly grid starts before the date scored (trend memory)."""
    cooldown: str = "13w"
    """A new call for a scenario within this long of its last call's end continues that episode."""
    max_lead: str = "26w"
    """`tracker evaluate`: a call may begin at most this long before a period of its scenario and
    still count as a hit (a call during the period is a hit too)."""


@plain
class Http:
    timeout: float = 20.0
    connect_timeout: float = 5.0
    retries: int = 3
    deadline: float = 300.0
    max_bytes: int = 50_000_000
    workers: int = 8
    per_host: int = 2
    min_interval: dict[str, float] = field(default_factory=lambda: {"api.gdeltproject.org": 5.0})


@plain
class Schedule:
    nightly: str = "30 4 * * *"
    digest: str = "0 7 * * mon"
    misfire_grace: str = "0.25d"


@plain
class Smtp:
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    ca_file: str | None = None
    """Extra CA bundle to trust (a private relay); verification itself cannot be turned off."""


@plain
class Digest:
    sender: str
    """Written `from:` in config.yaml."""
    to: list[str]
    subject: str = "tracker digest: {pack} — week of {week}"
    smtp: Smtp
    alerts_to: list[str] = field(default_factory=list)


@plain
class Site:
    out: str
    """The folder `tracker run` rewrites with the static site after scoring (relative: from config.yaml's
    folder); the same as `tracker site OUT` (issue 19)."""


@plain
class Config:
    pack: str
    store: str = "tracker.db"
    timezone: str = "UTC"
    log: str = "tracker.log"
    scoring: Scoring = field(default_factory=Scoring)
    http: Http = field(default_factory=Http)
    schedule: Schedule = field(default_factory=Schedule)
    digest: Digest | None = None
    ping_url: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    """API keys: name used by a source's `api_key:` → environment variable holding it."""
    stale_after: str = "1.5d"
    """`tracker status` fails when the last good nightly run is older than this."""
    empty_after: int = 7
    """A source whose answers held no data on this many nights in a row is failing (issue 15)."""
    data_dirs: list[str] = field(default_factory=list)
    """Folders outside the project that `file` sources may read (none other); see data_paths."""
    site: Site | None = None
    """Where the nightly run writes the static site; None: it writes none."""
    base_dir: Path = Path(".")
    """The folder of config.yaml: relative paths in it are read from there (not a YAML key)."""

    def path(self, text: str) -> Path:
        p = Path(text)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def data_paths(self) -> list[Path]:
        """`data_dirs` as real folders: `~` expanded, a relative one read from config.yaml's folder,
        links followed (file_source compares real paths, so a link cannot widen them)."""
        return [self.path(str(Path(d).expanduser())).resolve() for d in self.data_dirs]

    @property
    def pack_dir(self) -> Path:
        return self.path(self.pack)

    @property
    def store_path(self) -> Path:
        return self.path(self.store)

    @property
    def window_weeks(self) -> int:
        return max(1, round(parse_days(self.scoring.window) / 7))


def secret(env_name: str | None) -> str | None:
    """Read a secret from the environment at the moment of use; never stored on the Config."""
    return os.environ.get(env_name) if env_name else None


def find_config(explicit: str | None) -> Path:
    """--config, else $TRACKER_CONFIG, else ./config.yaml."""
    return Path(explicit or os.environ.get("TRACKER_CONFIG") or DEFAULT_NAME)
