"""The pack format as data: what each key of scenarios.yaml and an indicator file may hold.

Strict types (a `str` field refuses `NO`, which YAML reads as false), unknown keys refused.
The checked models become the plain records of types.py (same names, same fields),
which is what the rest of the code reads. Checks that need more than one file (a group named
in scenarios.yaml, the scenario ids in a likelihood row) live in pack.py; opinions about a
valid pack (diagnosticity, monotone ratios) live in lint.py.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tracker.durations import parse_days
from tracker.pack.validation import describe

ID_RX = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
FREQUENCIES = {"daily": "D", "weekly": "W-FRI", "monthly": "ME", "quarterly": "QE",
               "annual": "YE", "irregular": None}


def _duration(value: Any, allow_zero: bool = False) -> str:
    """Durations are text with a unit: a bare 12 could mean days, weeks or months."""
    expected = "expected a duration such as 365d, 13w, 18M or 2y"
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {describe(value)}")
    try:
        days = parse_days(value, allow_zero=True)
    except ValueError:
        raise ValueError(f"{expected}, got {describe(value)}") from None
    if days == 0 and not allow_zero:
        raise ValueError(f"expected a duration above zero, got {describe(value)}")
    return value


def _lag(value: Any) -> str:
    return _duration(value, allow_zero=True)


def _iso_date(value: Any) -> str:
    """YYYY-MM-DD only: the loader keeps dates as text (PITFALLS §2.4) and this is the check."""
    if isinstance(value, str) and _DATE_RX.match(value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise ValueError(f"expected a date as YYYY-MM-DD, got {describe(value)}")


_DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PANDAS_RENAMED = {"M": "ME", "Q": "QE", "Y": "YE", "A": "YE", "BM": "BME", "BQ": "BQE", "BY": "BYE",
                   "BA": "BYE", "SM": "SME", "H": "h", "BH": "bh", "T": "min", "S": "s", "L": "ms",
                   "U": "us", "N": "ns"}


def freq_problem(text: str) -> str | None:
    """Why text is not a pandas 3 frequency ("got 'M', which pandas 3 spells 'ME'"), or None."""
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(text)
    except (ValueError, TypeError, OverflowError):
        match = re.match(r"^(\d*)([A-Za-z]+)(-\w+)?$", text)
        new = _PANDAS_RENAMED.get(match.group(2)) if match else None
        if match and new:
            return f"got {text!r}, which pandas 3 spells {match.group(1) + new + (match.group(3) or '')!r}"
        return f"got {text!r}"
    if offset is None or offset.n <= 0:
        return f"got {text!r}, which is not a positive step"
    return None


def _pandas_freq(text: str) -> str:
    """Raise ValueError unless text is a positive pandas 3 frequency such as ME or W-FRI."""
    problem = freq_problem(text)
    if problem:
        raise ValueError(f"expected a pandas frequency such as ME, QE or W-FRI; {problem}")
    return text


def _likelihood(value: float) -> float:
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {describe(value)}: a zero rules the scenario "
                         "out for good, whatever is seen later (Cromwell's rule); use a small number "
                         "such as 0.01")
    return value


def _http_url(value: str) -> str:
    """An address the HTTP client can open. urllib only finds a malformed one (`http://[::1`)
    when it is split, which ingest did before fetching anything: one bad URL stopped every
    source (issue 16). Checked here, `tracker validate` names the file and line instead."""
    expected = "expected an http(s) address such as https://example.org/data.csv"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — parsing the port is the check
    except ValueError as exc:
        raise ValueError(f"{expected}, got {describe(value)} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{expected}, got {describe(value)}")
    return value


Duration = Annotated[str, BeforeValidator(_duration)]
Lag = Annotated[str, BeforeValidator(_lag)]
IsoDate = Annotated[str, BeforeValidator(_iso_date)]
Freq = Annotated[str, AfterValidator(_pandas_freq)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Ident = Annotated[str, Field(pattern=ID_RX)]
Positive = Annotated[float, Field(gt=0)]
Unit01 = Annotated[float, Field(gt=0, le=1)]


class Strict(BaseModel):
    """Unknown keys refused, no type coercion (YAML's `NO` stays a boolean and is refused where
    text is due), and no inf or nan, which would turn sums and log-ratios into nonsense."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# ---------------------------------------------------------------- scenarios.yaml

class Scenario(Strict):
    id: Ident
    name: str
    description: str
    prior: Annotated[float, Field(gt=0, lt=1)]


class Group(Strict):
    name: str
    weight: Unit01 = 1.0
    description: str = ""


class ScenarioSet(Strict):
    name: str
    description: str = ""
    prior_author: str = ""
    prior_date: IsoDate | None = None
    scenarios: Annotated[list[Scenario], Field(min_length=2)]
    groups: Annotated[dict[str, Group], Field(min_length=1)]
    scenario_order: list[str] | None = None


# ---------------------------------------------------------------- sources

class _Source(Strict):
    scale: float = 1.0
    """Multiplies every value, e.g. 1e-9 to turn US dollars into billions."""


class FileSource(_Source):
    kind: Literal["file"]
    path: str
    sheet: str | None = None
    date: str = "date"
    value: str = "value"


class CsvSource(_Source):
    kind: Literal["csv"]
    url: HttpUrl
    date: str = "date"
    value: str = "value"
    params: dict[str, str] = {}


class JsonSource(_Source):
    kind: Literal["json"]
    url: HttpUrl
    records: str = ""
    date: str = "date"
    value: str = "value"
    params: dict[str, str] = {}


class GdeltSource(_Source):
    kind: Literal["gdelt"]
    query: str
    mode: Literal["timelinevol", "timelinevolraw", "timelinetone"] = "timelinevol"
    start: IsoDate
    smooth: Annotated[int, Field(ge=0, le=30)] = 0
    resample: Literal["daily", "weekly", "monthly"] = "monthly"
    url: HttpUrl = "https://api.gdeltproject.org/api/v2/doc/doc"


class WorldBankSource(_Source):
    kind: Literal["worldbank"]
    country: str
    indicator: str
    start: int = 2000
    end: int | None = None
    url: HttpUrl = "https://api.worldbank.org/v2"


class ImfSource(_Source):
    kind: Literal["imf"]
    dataflow: str = "IMF.STA/IMTS/1.0.0"
    key: str
    url: HttpUrl = "https://api.imf.org/external/sdmx/3.0"
    start: str | None = None
    api_key: str | None = None
    """Name of the config `keys:` entry whose environment variable holds the key."""


class ComtradeSource(_Source):
    kind: Literal["comtrade"]
    reporter: int
    partner: int
    flow: Literal["X", "M"]
    cmd: str = "TOTAL"
    share_of: str | None = None
    """Report `cmd` as a percentage of this commodity code (e.g. TOTAL)."""
    freq: Literal["A", "M"] = "A"
    periods: list[int] = []
    preview: bool = True
    api_key: str | None = None
    url: HttpUrl = "https://comtradeapi.un.org"


class SipriSource(_Source):
    kind: Literal["sipri"]
    supplier: str
    recipient: str
    start: int = 2000
    end: int | None = None
    url: HttpUrl = "https://atbackend.sipri.org/api/p/trades/trade-register-csv/"


class ManualSource(Strict):
    kind: Literal["manual"]


class SqlSource(_Source):
    kind: Literal["sql"]
    url_env: str
    """Environment variable holding the SQLAlchemy URL (it may carry a password)."""
    query: str
    date: str = "date"
    value: str = "value"


Source = Annotated[
    FileSource | CsvSource | JsonSource | GdeltSource | WorldBankSource | ImfSource
    | ComtradeSource | SipriSource | ManualSource | SqlSource,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------- indicators

class State(Strict):
    name: Ident
    below: float | None = None
    at_most: float | None = None
    above: float | None = None
    at_least: float | None = None


class GivenRow(Strict):
    date: IsoDate
    value: float | None = None
    level: str | None = None
    published: IsoDate | None = None


class Expect(Strict):
    state: str | None = None
    no_data: bool = False
    value: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Expect:
        if self.no_data and (self.state is not None or self.value is not None):
            raise ValueError("no_data: true cannot be combined with state or value")
        if not self.no_data and self.state is None and self.value is None:
            raise ValueError("expected state, value or no_data: true")
        return self


class IndicatorTest(Strict):
    name: str = ""
    as_of: IsoDate | None = None
    given: list[GivenRow] = []
    expect: Expect


LikelihoodRow = dict[str, Annotated[float, AfterValidator(_likelihood)]]

TRANSFORMS = ("resample", "rolling", "change", "pct_change", "yoy", "zscore", "share_of")


class Indicator(Strict):
    id: Ident
    name: str
    group: str
    kind: Literal["numeric", "ordinal"] = "numeric"
    unit: str = ""
    frequency: str = "irregular"
    source: Source
    seed: str | None = None
    publication_lag: Lag = "0d"
    transforms: list[dict[str, Any]] = []
    states: list[State] = []
    hysteresis: Annotated[float, Field(gt=0)] | None = None
    levels: list[Ident] = []
    pace: dict[str, Duration] = {}
    stalled_after: Duration | None = None
    stall_cap: Duration | None = None
    scenario_order: list[str] | None = None
    likelihood: dict[str, LikelihoodRow]
    weight: Unit01 = 1.0
    half_life: Duration = "365d"
    stale_after: Duration = "400d"
    rationale: Annotated[str, Field(min_length=20)]
    tests: list[IndicatorTest] = []
