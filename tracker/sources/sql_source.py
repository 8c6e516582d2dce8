"""`sql`: a query over any SQLAlchemy URL, so heavy aggregation runs in DuckDB, Postgres, Trino…

The URL comes from an environment variable because it may carry a password; it is never put into
a message, and a driver error that repeats it has it masked. The query runs in a transaction
that is rolled back, never committed. Each row's source is that URL with its password, user and
key-like parameters masked (`postgresql://***@db.example.org/stats`); a query that returns no
row is an answer with nothing in it.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import pandas as pd
import sqlalchemy
from sqlalchemy.engine import make_url

from tracker.pack.types import SqlSource
from tracker.sources import FetchContext, SourceError
from tracker.sources.file_source import labelled, tidy
from tracker.sources.http import is_secret

CONDITIONAL = ""
"""No request to make conditional: the query runs, and unchanged rows write nothing (`tracker sources`)."""


def fetch(spec: SqlSource, ctx: FetchContext) -> pd.DataFrame:
    with labelled(f"sql ${spec.url_env}"):
        url = ctx.env.get(spec.url_env) or os.environ.get(spec.url_env)
        if not url:
            raise SourceError(f"environment variable {spec.url_env} is not set (it should hold the "
                              "SQLAlchemy URL of the database)")
        columns, rows = _run(url, spec.query)
        here = shown(url)
        records = [(f"result row {i + 1}", {**row, "source_url": row.get("source_url") or row.get("url") or here})
                   for i, row in enumerate(rows)]
        return tidy(records, [*columns, "source_url"], date=spec.date, value=spec.value, scale=spec.scale)


def shown(url: str) -> str:
    """The database URL as rows cite it: without user and password, key-like options as ***, the
    rest as SQLAlchemy writes it (a generic URL parser would fold `sqlite:////abs/path` into a host)."""
    try:
        parsed = make_url(url)
        plain = parsed._replace(username=None, password=None, query={}).render_as_string(hide_password=False)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return "(database URL not shown)"
    pairs = [(k, "***" if is_secret(k) else v) for k, values in parsed.query.items()
             for v in (values if isinstance(values, tuple) else (values,))]
    return plain + ("?" + urlencode(pairs, safe="*/:") if pairs else "")


def _run(url: str, query: str) -> tuple[list[str], list[dict[str, object]]]:
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except sqlalchemy.exc.ArgumentError:
        raise SourceError("the value is not a valid SQLAlchemy URL") from None
    except Exception as exc:  # a missing driver, a bad option: say what, never the URL
        raise SourceError(f"cannot open the database: {_masked(exc, url)}") from None
    try:
        with engine.connect() as conn:
            result = conn.execute(sqlalchemy.text(query))
            columns = list(result.keys())
            return columns, [dict(row) for row in result.mappings()]
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise SourceError(f"the query failed: {_masked(exc, url)}") from None
    finally:
        engine.dispose()


def _masked(exc: BaseException, url: str) -> str:
    """The driver's own message, first line, with the URL and its password masked."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    password = make_url(url).password
    for secret in (url, password):
        if secret:
            text = text.replace(str(secret), "***")
    return text
