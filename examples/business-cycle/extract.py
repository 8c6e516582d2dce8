"""How data/*.csv were made, once, from the US macro dataset that ships with statsmodels.

    python3 -m venv /tmp/sm && /tmp/sm/bin/pip install statsmodels
    /tmp/sm/bin/python examples/business-cycle/extract.py

statsmodels.datasets.macrodata (statsmodels 0.15.0) holds 203 quarters, 1959Q1 to 2009Q3, of US
series compiled by Skipper Seabold from FRED (Federal Reserve Bank of St. Louis, accessed
15 December 2009) and the BLS. They are the revised figures of December 2009, not what was first
published, so a backtest on them is pseudo-real-time: the tracker sees each quarter only from
its `published` date, but with later revisions already in it.

Each CSV has the tracker's seed columns (date,value,published,source_url,note) and is also the
indicator's `file` source. `date` is the last day of the quarter the figure describes;
`published` adds the usual delay before the figure was first known:
  real GDP, consumption, investment  30 days (BEA's advance estimate, a month after the quarter)
  unemployment rate                   7 days (BLS, the first Friday after the quarter's last month)
  3-month Treasury bill rate          1 day  (a market rate)
tracker itself never imports statsmodels: it reads these files.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from statsmodels.datasets import macrodata

HERE = Path(__file__).resolve().parent
SERIES = {  # file: (macrodata column, FRED series behind it, publication lag in days, what it is)
    "real-gdp": ("realgdp", "GDPC1", 30, "real GDP, bn chained 2005 USD, SAAR"),
    "real-consumption": ("realcons", "PCECC96", 30, "real personal consumption, bn chained 2005 USD, SAAR"),
    "real-investment": ("realinv", "GPDIC1", 30, "real gross private domestic investment, bn chained 2005 USD"),
    "unemployment": ("unemp", "UNRATE", 7, "unemployment rate, %, SA, quarterly"),
    "tbill-rate": ("tbilrate", "TB3MS", 1, "3-month Treasury bill rate, %, quarterly average"),
}


def quarter_end(year: int, quarter: int) -> dt.date:
    first_of_next = dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def main() -> None:
    data = macrodata.load_pandas().data
    for name, (column, fred, lag, what) in SERIES.items():
        path = HERE / "data" / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(["date", "value", "published", "source_url", "note"])
            for row in data.itertuples(index=False):
                year, quarter = int(row.year), int(row.quarter)
                day = quarter_end(year, quarter)
                out.writerow([day.isoformat(), str(float(getattr(row, column))),
                              (day + dt.timedelta(days=lag)).isoformat(),
                              f"https://fred.stlouisfed.org/series/{fred}",
                              f"statsmodels macrodata {column} {year}Q{quarter}: {what} (FRED, Dec 2009 vintage)"])
        print(f"wrote {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
