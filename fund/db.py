"""Engine, sessions and the write lock.

DuckDB allows one writing process per file and raises conflicts on concurrent updates of the same
row, so every write in this process goes through `write_session()`, which holds one lock for the
whole transaction. On PostgreSQL the same lock is taken together with a transaction-level advisory
lock, so several app processes serialise their writes too.
"""

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from fund import (
    models,  # noqa: F401  (registers every table on SQLModel.metadata)
    user_text,
)
from fund.errors import DatabaseUnavailable
from fund.settings import get_settings

user_text.guard_session()  # no control or direction character reaches any table

WRITE_LOCK = threading.RLock()
_ADVISORY_LOCK_KEY = 4_000_000  # any constant shared by all app processes


def is_duckdb(engine: Engine) -> bool:
    return engine.dialect.name == "duckdb"


def database_path(url: str) -> Path | None:
    """The file behind a duckdb:/// URL, or None for other engines and :memory:."""
    prefix = "duckdb:///"
    if not url.startswith(prefix) or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


def explain_connection_error(url: str, exc: BaseException) -> str:
    """A Japanese message for the usual ways a database cannot be opened."""
    detail = str(exc)
    if "Could not set lock" in detail or "Conflicting lock" in detail:
        return (
            "データベースファイルが他のプロセスで使用中のため開けません。"
            "画面（streamlit）や別のコマンドを終了してから、もう一度お試しください。"
        )
    if "not a valid DuckDB database file" in detail or "Corrupt database file" in detail:
        return (
            "指定されたファイルは DuckDB のデータベースではないか、破損しています。"
            "FUND_DATABASE_URL のファイル名を確認し、必要ならバックアップから復元してください（README の「セキュリティと運用」）。"
        )
    if "version number" in detail or "serialization" in detail.lower():
        return (
            "データベースファイルが別のバージョンの DuckDB で作成されているため開けません。"
            "作成したリリースで `fund backup` を取り、このリリースで `fund restore` してください"
            "（元のファイルはそのまま残ります。README の「バックアップと復元」）。"
        )
    if url.startswith("postgresql"):
        return "PostgreSQL サーバーに接続できません。FUND_DATABASE_URL の接続先と稼働状況を確認してください。"
    return "データベースを開けません。FUND_DATABASE_URL の設定とファイルの場所を確認してください。"


_ENGINES: dict[str, Engine] = {}


def _engine_for(url: str) -> Engine:
    with WRITE_LOCK:
        if url not in _ENGINES:
            path = database_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs: dict[str, Any] = {}
            if url.startswith("postgresql"):
                kwargs["pool_pre_ping"] = True
                kwargs["connect_args"] = {"options": "-c TimeZone=UTC"}  # see _session_in_utc
            engine = create_engine(url, **kwargs)
            if url.startswith("duckdb"):
                event.listen(engine, "connect", _session_in_utc)
            from fund import integrity  # here: it imports this module

            integrity.guard_session()  # no watched change is committed without its after-image
            _ENGINES[url] = engine
        return _ENGINES[url]


def _session_in_utc(dbapi_connection: Any, _record: Any) -> None:
    """Sessions run in UTC, whatever the server's zone: otherwise DuckDB (like PostgreSQL without its
    option) reads a naive datetime, or casts a stamp to a date, in the server's own zone, and on a
    server set to Japan time the audit log's period moved by 9 hours."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TimeZone = 'UTC'")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: FUND_DATABASE_URL). Raises DatabaseUnavailable."""
    url = url or get_settings().database_url
    try:
        engine = _engine_for(url)
    except (SQLAlchemyError, ValueError) as exc:  # malformed URL or unknown driver
        raise DatabaseUnavailable(
            "FUND_DATABASE_URL の形式が正しくありません（例: duckdb:///data/fund.duckdb、"
            "postgresql+psycopg://利用者@ホスト/データベース名）。"
        ) from exc
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, OSError) as exc:
        _ENGINES.pop(url, None)
        engine.dispose()
        raise DatabaseUnavailable(explain_connection_error(url, exc)) from exc
    return engine


def require_file(url: str | None = None) -> None:
    """Refuse a DuckDB URL whose file does not exist, instead of silently creating an empty one."""
    url = url or get_settings().database_url
    path = database_path(url)
    if path is not None and not path.exists():
        raise DatabaseUnavailable(
            f"データベースファイル {path} がありません。FUND_DATABASE_URL を確認するか、"
            "新しく始める場合は `fund init` で作成してください。"
        )


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before a restore replaces the file)."""
    with WRITE_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction under the process-wide write lock; commits on success, rolls back on error.

    Services put the change and its audit row in the same session so both land or neither does.
    """
    with WRITE_LOCK, Session(engine) as session:
        if not is_duckdb(engine):
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def checkpoint(engine: Engine) -> None:
    """Flush DuckDB's WAL into the file (after money writes, so a crash cannot lose them)."""
    if is_duckdb(engine):
        with WRITE_LOCK, engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))


def query_df(
    engine: Engine, sql: str, params: dict[str, Any] | None = None, *, columnar: bool = False
) -> pd.DataFrame:
    """Run a read-only SQL statement with bound parameters and return a DataFrame.

    `columnar`: on DuckDB, fetch the result column by column (Arrow) instead of row by row — several
    times faster for hundreds of thousands of rows, but with DuckDB's own dtypes (int32, float32,
    datetime64 for dates), so the caller must normalise them. PostgreSQL always reads row by row."""
    with engine.connect() as conn:  # read_sql_query: no table-name lookup before every statement
        if columnar and is_duckdb(engine):
            compiled = text(sql).bindparams(**(params or {})).compile(dialect=engine.dialect)
            values = [compiled.params[name] for name in compiled.positiontup or []]
            result = conn.exec_driver_sql(compiled.string, tuple(values))
            frame: pd.DataFrame = result.cursor.fetch_df()  # the DuckDB cursor, past SQLAlchemy rows
            return frame
        return pd.read_sql_query(text(sql), conn, params=params or {})


def self_references(table: str) -> list[str]:
    """Columns of `table` that reference the table's own id (category.parent_id, ledger_entry.reverses_entry_id)."""
    model = SQLModel.metadata.tables.get(table)
    if model is None:
        return []
    return [fk.parent.name for fk in model.foreign_keys if fk.column.table is model]


def insert_rows(con: Any, table: str, columns: list[str], source: str) -> None:
    """`INSERT INTO table SELECT … FROM source` on a DuckDB connection (`source`: a registered view or
    `read_parquet(…)`). DuckDB checks a foreign key against the rows present before the statement,
    so rows that point at rows of the same table go in level by level, parents first."""
    names = ", ".join(f'"{c}"' for c in columns)
    refs = [c for c in self_references(table) if c in columns]
    if not refs:
        con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM {source}').fetchall()
        return
    pending = " OR ".join(
        f'(s."{c}" IS NOT NULL AND s."{c}" NOT IN (SELECT id FROM "{table}"))' for c in refs
    )
    while True:
        inserted = con.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {names} FROM {source} AS s '
            f'WHERE s.id NOT IN (SELECT id FROM "{table}") AND NOT ({pending})'
        ).fetchall()[0][0]
        if not inserted:
            return


def like_pattern(text: str) -> str:
    """`%text%` for a case-sensitive "contains" search, with `%`, `_` and `\\` taken literally.

    Use it with `contains(column, param)`: the ESCAPE clause makes both engines read the backslash."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column: str, param: str) -> str:
    """The SQL condition `column` contains the `like_pattern` bound as `:param`."""
    return f"{column} LIKE :{param} ESCAPE '\\'"


def in_list(param: str, values: Iterable[object]) -> tuple[str, dict[str, object]]:
    """`(:param_0, :param_1, …)` and its parameters: a list of codes bound, never written into SQL."""
    params = {f"{param}_{i}": getattr(v, "value", v) for i, v in enumerate(values)}
    return "(" + ", ".join(f":{name}" for name in params) + ")", params
