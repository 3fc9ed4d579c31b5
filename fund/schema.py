"""The database schema's revision (Alembic): what state a database is in, and whether this release
may use it. Every schema change ships as a revision in fund/migrations/versions; `fund db upgrade`
(fund.ops.upgrade) applies them. A new, empty database is created by running them from empty."""

import enum
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, String, create_engine, inspect, text
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from fund import models  # noqa: F401  (registers every table on SQLModel.metadata)
from fund.db import WRITE_LOCK
from fund.errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# The revision equal to the schema of release 0.1.0, the last one made before migrations existed.
BASELINE = "0001"


class AlembicDuckDBImpl(DefaultImpl):
    """Registers DuckDB with Alembic (as duckdb_engine documents): its DDL is close enough to
    PostgreSQL's for the default operations, and transactional, so an upgrade commits as one."""

    __dialect__ = "duckdb"
    transactional_ddl = True


class SchemaMismatch(DatabaseUnavailable):
    """The database is not at the revision this release uses; the message names what to run."""


class State(str, enum.Enum):
    empty = "empty"  # no tables: created at head on first start
    current = "current"  # at this release's head
    behind = "behind"  # an earlier revision: `fund db upgrade`
    unversioned = "unversioned"  # release 0.1.0, before migrations: stamped BASELINE, then upgraded
    ahead = "ahead"  # a revision this release does not know: written by a newer release
    partial = "partial"  # some of the tables are missing: half created or half migrated
    foreign = "foreign"  # tables, none of them this app's


@dataclass(frozen=True)
class Status:
    state: State
    revision: str | None
    head: str
    missing: tuple[str, ...] = ()  # this app's tables the database lacks
    other: tuple[str, ...] = ()  # tables that are not this app's

    @property
    def message(self) -> str:
        """What the user is told, in Japanese, naming the command to run."""
        return _MESSAGES[self.state].format(
            revision=self.revision,
            head=self.head,
            missing="、".join(self.missing[:5]),
            other="、".join(self.other[:5]),
        )


_MESSAGES = {
    State.empty: "データベースにまだ表がありません。`fund init` で作成してください。",
    State.current: "データベースのスキーマは最新の版（{head}）です。",
    State.behind: (
        "データベースのスキーマが古い版（{revision}）のままです。このリリースは版 {head} を使います。"
        "アプリを止めて `fund db upgrade` を実行してください（先にバックアップを取ります）。"
    ),
    State.unversioned: (
        "このデータベースは版の記録が始まる前のリリース（0.1.0）で作成されています。"
        "アプリを止めて `fund db upgrade` を実行してください（先にバックアップを取ります）。"
    ),
    State.ahead: (
        "データベースは、このリリースより新しいリリースで更新されています（版 {revision}、このリリースは版 {head} まで）。"
        "新しいリリースで開いてください。このデータベースには何も書き込んでいません。"
    ),
    State.partial: (
        "データベースのスキーマが途中までしか作成・更新されていません（不足している表: {missing}）。"
        "`fund restore` でバックアップ（`fund db upgrade` が取ったものなど）から復元してください。"
        "このデータベースには何も書き込んでいません。"
    ),
    State.foreign: (
        "指定されたデータベースには、この基金管理アプリのものではない表があります（{other}）。"
        "FUND_DATABASE_URL の接続先を確認してください。このデータベースには何も書き込んでいません。"
    ),
}


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    revision = scripts().get_current_head()
    assert revision is not None, "fund/migrations/versions holds no revision"
    return revision


def history() -> list[tuple[str, str | None, str]]:
    """(revision, the revision it follows, its description), oldest first."""
    revisions = reversed(list(scripts().walk_revisions()))
    return [(r.revision, _single(r.down_revision), r.doc) for r in revisions]


def _single(down: str | list[str] | tuple[str, ...] | None) -> str | None:
    return down if down is None or isinstance(down, str) else ", ".join(down)


def _compare_type(
    context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """DuckDB keeps no VARCHAR length, so a length is no difference there; otherwise Alembic decides."""
    if context.dialect.name == "duckdb" and isinstance(inspected_type, String):
        return not isinstance(metadata_type, String)
    return None


def context_options() -> dict[str, Any]:
    """The options every migration context runs with (env.py and the comparison below)."""
    return {
        "target_metadata": SQLModel.metadata,
        "compare_type": _compare_type,
        "transaction_per_migration": False,  # the whole upgrade is one transaction
        "version_table": VERSION_TABLE,
    }


def table_names(conn: Connection) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    )
    return {str(r[0]) for r in rows}


def column_names(conn: Connection) -> set[str]:
    """`table.column` of every column (information_schema: the same on DuckDB and PostgreSQL)."""
    rows = conn.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
    )
    return {f"{r[0]}.{r[1]}" for r in rows}


@functools.cache
def baseline_columns() -> frozenset[str]:
    """The columns of release 0.1.0, built by the baseline revision in a scratch in-memory DuckDB."""
    scratch = create_engine("duckdb:///:memory:")
    try:
        with scratch.begin() as conn:
            command.upgrade(config(conn), BASELINE)
            return frozenset(c for c in column_names(conn) if not c.startswith(VERSION_TABLE + "."))
    finally:
        scratch.dispose()


def status_of(conn: Connection) -> Status:
    tip = head()
    tables = table_names(conn)
    ours = set(SQLModel.metadata.tables)
    other = tuple(sorted(tables - ours - {VERSION_TABLE}))
    if VERSION_TABLE not in tables:
        if not tables:
            return Status(State.empty, None, tip)
        if not tables & ours:
            return Status(State.foreign, None, tip, other=other)
        missing = tuple(sorted(baseline_columns() - column_names(conn)))
        if missing:  # half created, or made by a development version older than release 0.1.0
            return Status(State.partial, None, tip, missing=missing, other=other)
        return Status(State.unversioned, None, tip, other=other)
    revision = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    known = {r.revision for r in scripts().walk_revisions()}
    if revision is None or (revision == tip and not tables >= ours):
        return Status(State.partial, revision, tip, missing=tuple(sorted(ours - tables)), other=other)
    if revision == tip:
        return Status(State.current, revision, tip, other=other)
    if revision in known:
        return Status(State.behind, revision, tip, other=other)
    return Status(State.ahead, revision, tip, other=other)


def status(engine: Engine) -> Status:
    with engine.connect() as conn:
        return status_of(conn)


def require_current(engine: Engine) -> None:
    """Refuse a database this release cannot use, with the Japanese message that says what to run."""
    found = status(engine)
    if found.state is not State.current:
        raise SchemaMismatch(found.message)


def create(engine: Engine) -> None:
    """Create every table at the head revision in one transaction (a new, empty database). It runs
    the revisions from empty, so a new database and an upgraded one are laid out alike (a column a
    revision adds comes last in both)."""
    with WRITE_LOCK, engine.begin() as conn:
        command.upgrade(config(conn), "head")


def ensure(engine: Engine) -> None:
    """A database ready for this release: an empty one is created at head; any other state but
    `current` is refused (upgrading is `fund db upgrade`, which takes a backup first)."""
    found = status(engine)
    if found.state is State.empty:
        create(engine)
    elif found.state is not State.current:
        raise SchemaMismatch(found.message)


def differences(engine: Engine) -> list[Any]:
    """What differs between the models and the database (empty when the revisions match the code).

    PostgreSQL: Alembic's autogenerate comparison, and the sequences it does not compare. DuckDB: the
    dialect cannot reflect keys and constraints, so DuckDB's own catalog is compared with the catalog
    of a scratch database created from the models."""
    if engine.dialect.name == "duckdb":
        scratch = create_engine("duckdb:///:memory:")
        try:
            SQLModel.metadata.create_all(scratch)
            with scratch.connect() as conn:
                wanted = catalog(conn)
        finally:
            scratch.dispose()
        with engine.connect() as conn:
            found = catalog(conn)
        return [("missing", fact) for fact in sorted(wanted - found)] + [
            ("unexpected", fact) for fact in sorted(found - wanted)
        ]
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=context_options())
        diffs: list[Any] = compare_metadata(context, SQLModel.metadata)
        present = set(inspect(conn).get_sequence_names())
    wanted_sequences = {s.name for s in SQLModel.metadata._sequences.values()}
    diffs.extend(("missing_sequence", name) for name in sorted(wanted_sequences - present))
    return diffs


def catalog(conn: Connection) -> set[tuple[str, ...]]:
    """DuckDB's description of the schema as comparable facts: columns with type, nullability and
    default; keys, foreign keys and checks; indexes; sequences (the version table left out)."""
    queries = {
        "column": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM duckdb_columns()",
        "constraint": "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
        "referenced_column_names, expression FROM duckdb_constraints()",
        "index": "SELECT table_name, index_name, sql FROM duckdb_indexes()",
        "sequence": "SELECT sequence_name FROM duckdb_sequences()",
    }
    facts: set[tuple[str, ...]] = set()
    for kind, sql in queries.items():
        for row in conn.execute(text(sql)):
            if row[0] != VERSION_TABLE:
                facts.add((kind, *(str(v) for v in row)))
    return facts
