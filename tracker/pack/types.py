"""The validated pack as plain dataclasses: what scoring, ingest and the reports read.

schema.py says what a YAML file may hold and checks it with pydantic; load.py turns the
checked models into these. They are kept apart because importing pydantic and building the
schema costs more than scoring the default pack: a command that finds the pack unchanged
(load_cache.py) rebuilds these from JSON and never imports pydantic. Field names and
defaults mirror schema.py one for one (tests/test_pack_types.py holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tracker.errors import Problem
from tracker.pack.marks import Loc, Marks

SCENARIOS_FILE = "scenarios.yaml"
OUTCOMES_FILE = "outcomes.csv"

plain = dataclass(kw_only=True)
"""Not frozen: a frozen dataclass costs twice as much to define, and start-up counts (nothing
writes to a record after loading)."""


# ---------------------------------------------------------------- scenarios.yaml

@plain
class Scenario:
    id: str
    name: str
    description: str
    prior: float


@plain
class Group:
    name: str
    weight: float = 1.0
    description: str = ""


@plain
class ScenarioSet:
    name: str
    description: str = ""
    prior_author: str = ""
    prior_date: str | None = None
    scenarios: list[Scenario]
    groups: dict[str, Group]
    scenario_order: list[str] | None = None


# ---------------------------------------------------------------- sources

@plain
class _Source:
    scale: float = 1.0
    """Multiplies every value, e.g. 1e-9 to turn US dollars into billions."""


@plain
class FileSource(_Source):
    kind: Literal["file"]
    path: str
    sheet: str | None = None
    date: str = "date"
    value: str = "value"


@plain
class CsvSource(_Source):
    kind: Literal["csv"]
    url: str
    date: str = "date"
    value: str = "value"
    params: dict[str, str] = field(default_factory=dict)


@plain
class JsonSource(_Source):
    kind: Literal["json"]
    url: str
    records: str = ""
    date: str = "date"
    value: str = "value"
    params: dict[str, str] = field(default_factory=dict)


@plain
class GdeltSource(_Source):
    kind: Literal["gdelt"]
    query: str
    mode: Literal["timelinevol", "timelinevolraw", "timelinetone"] = "timelinevol"
    start: str
    smooth: int = 0
    resample: Literal["daily", "weekly", "monthly"] = "monthly"
    url: str = "https://api.gdeltproject.org/api/v2/doc/doc"


@plain
class WorldBankSource(_Source):
    kind: Literal["worldbank"]
    country: str
    indicator: str
    start: int = 2000
    end: int | None = None
    url: str = "https://api.worldbank.org/v2"


@plain
class ImfSource(_Source):
    kind: Literal["imf"]
    dataflow: str = "IMF.STA/IMTS/1.0.0"
    key: str
    url: str = "https://api.imf.org/external/sdmx/3.0"
    start: str | None = None
    api_key: str | None = None
    """Name of the config `keys:` entry whose environment variable holds the key."""


@plain
class ComtradeSource(_Source):
    kind: Literal["comtrade"]
    reporter: int
    partner: int
    flow: Literal["X", "M"]
    cmd: str = "TOTAL"
    share_of: str | None = None
    """Report `cmd` as a percentage of this commodity code (e.g. TOTAL)."""
    freq: Literal["A", "M"] = "A"
    periods: list[int] = field(default_factory=list)
    preview: bool = True
    api_key: str | None = None
    url: str = "https://comtradeapi.un.org"


@plain
class SipriSource(_Source):
    kind: Literal["sipri"]
    supplier: str
    recipient: str
    start: int = 2000
    end: int | None = None
    url: str = "https://atbackend.sipri.org/api/p/trades/trade-register-csv/"


@plain
class ManualSource:
    kind: Literal["manual"]


@plain
class SqlSource(_Source):
    kind: Literal["sql"]
    url_env: str
    """Environment variable holding the SQLAlchemy URL (it may carry a password)."""
    query: str
    date: str = "date"
    value: str = "value"


Source = (FileSource | CsvSource | JsonSource | GdeltSource | WorldBankSource | ImfSource | ComtradeSource
          | SipriSource | ManualSource | SqlSource)


# ---------------------------------------------------------------- indicators

@plain
class State:
    name: str
    below: float | None = None
    at_most: float | None = None
    above: float | None = None
    at_least: float | None = None

    def matches(self, x: float) -> bool:
        return ((self.below is None or x < self.below)
                and (self.at_most is None or x <= self.at_most)
                and (self.above is None or x > self.above)
                and (self.at_least is None or x >= self.at_least))

    def bounds(self) -> list[float]:
        return [b for b in (self.below, self.at_most, self.above, self.at_least) if b is not None]


@plain
class GivenRow:
    date: str
    value: float | None = None
    level: str | None = None
    published: str | None = None


@plain
class Expect:
    state: str | None = None
    no_data: bool = False
    value: float | None = None


@plain
class IndicatorTest:
    name: str = ""
    as_of: str | None = None
    given: list[GivenRow] = field(default_factory=list)
    expect: Expect


@plain
class Indicator:
    id: str
    name: str
    group: str
    kind: Literal["numeric", "ordinal"] = "numeric"
    unit: str = ""
    frequency: str = "irregular"
    source: Source
    seed: str | None = None
    publication_lag: str = "0d"
    transforms: list[dict[str, Any]] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    hysteresis: float | None = None
    levels: list[str] = field(default_factory=list)
    pace: dict[str, str] = field(default_factory=dict)
    stalled_after: str | None = None
    stall_cap: str | None = None
    scenario_order: list[str] | None = None
    likelihood: dict[str, dict[str, float]]
    weight: float = 1.0
    half_life: str = "365d"
    stale_after: str = "400d"
    rationale: str
    tests: list[IndicatorTest] = field(default_factory=list)

    @property
    def state_names(self) -> list[str]:
        return list(self.levels) if self.kind == "ordinal" else [s.name for s in self.states]


# ---------------------------------------------------------------- outcomes.csv

@plain
class Outcome:
    """A period during which `scenario` was what happened (outcomes.csv; pack/outcomes.py)."""

    start: str
    end: str | None
    """Inclusive; None while the period is still going on."""
    scenario: str
    source_url: str
    note: str = ""


# ---------------------------------------------------------------- the pack

@dataclass
class Pack:
    root: Path
    scenario_set: ScenarioSet
    indicators: dict[str, Indicator]
    files: dict[str, Path] = field(default_factory=dict)
    marks: Mapping[str, Marks] = field(default_factory=dict)
    scenario_marks: Marks = field(default_factory=Marks)
    outcomes: list[Outcome] | None = None
    """The known outcomes (outcomes.csv beside scenarios.yaml), None when the pack has none."""
    notes: list[Problem] = field(default_factory=list, compare=False)
    """What loading changed and says so (priors normalised); `tracker validate` prints them. A
    pack read back from the load cache has none: it was checked, and noted, when cached."""

    @property
    def name(self) -> str:
        return self.scenario_set.name

    @property
    def scenario_ids(self) -> list[str]:
        return [s.id for s in self.scenario_set.scenarios]

    @property
    def priors(self) -> dict[str, float]:
        return {s.id: s.prior for s in self.scenario_set.scenarios}

    @property
    def live_ids(self) -> list[str]:
        """The indicators fetched from a source (not recorded by hand), in pack order."""
        return [iid for iid, ind in self.indicators.items() if ind.source.kind != "manual"]

    @property
    def scenarios_path(self) -> Path:
        return self.root / SCENARIOS_FILE

    @property
    def outcomes_path(self) -> Path:
        return self.root / OUTCOMES_FILE

    def seed_path(self, ind: Indicator) -> Path | None:
        """Seeds are named relative to the folder that holds the pack folder."""
        return (self.root.parent / ind.seed) if ind.seed else None

    def line_of(self, indicator_id: str, loc: Loc) -> str:
        line, _ = self.marks.get(indicator_id, Marks()).at(loc)
        return f"{self.shown(self.files[indicator_id])}:{line}"

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)
