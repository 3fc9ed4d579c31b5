"""`fund migrate --to URL`: copy the whole database to another engine (typically DuckDB → PostgreSQL).

Steps: create the schema on the target (which must be empty), copy every table in dependency order
(parents first, rows in id order so self-references resolve) with each engine's bulk path (DuckDB:
registered Arrow batches; PostgreSQL: COPY), move each id sequence past the largest id copied, then
verify: the row count of every table and the fund balance must match, and the audit chain must hold
on the target. Only then is one audit row (action `migrate`) added to the target. The source is read
in one transaction, so the copy is a consistent snapshot; it is never modified.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Engine, Sequence, Table, text
from sqlalchemy.engine import make_url
from sqlmodel import JSON, SQLModel

from fund import audit, ledger, schema
from fund.auth import SYSTEM, Action, Actor, require
from fund.db import checkpoint, get_engine, insert_rows, is_duckdb, self_references, write_session
from fund.errors import RuleViolation
from fund.models import AuditAction

BATCH_ROWS = 50_000

# progress(step description, done, total), like fund.backup
Progress = Callable[[str, int, int], None]


@dataclass
class MigrateReport:
    source: str
    target: str
    tables: dict[str, int] = field(default_factory=dict)
    balance_yen: int = 0


def safe_url(url: str) -> str:
    """The URL without its password, for messages and the audit log."""
    return make_url(url).render_as_string(hide_password=True)


def tables() -> list[Table]:
    """Every table of the application, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


def _id_sequence(table: Table) -> Sequence | None:
    for column in table.primary_key.columns:
        if isinstance(column.default, Sequence):
            return column.default
    return None


def _order_by(table: Table) -> str:
    return ", ".join(c.name for c in table.primary_key.columns)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table."""
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(text(f"SELECT COUNT(*) FROM {t.name}")).scalar_one()) for t in tables()
        }


def _read_batches(conn: Any, source: Engine, table: Table) -> Iterator[pa.RecordBatch]:
    """The table's rows in primary-key order as Arrow batches (JSON columns as text)."""
    columns = ", ".join(
        f"CAST({c.name} AS TEXT) AS {c.name}" if isinstance(c.type, JSON) else c.name for c in table.columns
    )
    sql = f"SELECT {columns} FROM {table.name} ORDER BY {_order_by(table)}"
    if is_duckdb(source):
        reader = conn.connection.driver_connection.sql(sql).to_arrow_reader(BATCH_ROWS)
        yield from reader
        return
    names = [c.name for c in table.columns]
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(sql)
        while rows := cur.fetchmany(BATCH_ROWS):
            yield pa.RecordBatch.from_pylist([dict(zip(names, r, strict=True)) for r in rows])


def _write_batch(conn: Any, target: Engine, table: Table, batch: pa.Table) -> None:
    names = ", ".join(batch.schema.names)
    dc = conn.connection.driver_connection
    if is_duckdb(target):
        # DuckDB 2 registers nothing while a result of this connection is unread (SQLAlchemy reads
        # only the rows it needs, e.g. the sequence's value): finish it first.
        dc.complete()
        dc.register("src", batch)
        try:
            insert_rows(dc, table.name, batch.schema.names, "src")
        finally:
            dc.unregister("src")
        return
    columns = [col.to_pylist() for col in batch.columns]
    with dc.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)


def _reset_sequence(conn: Any, target: Engine, table: Table) -> None:
    """Move the table's id sequence so the next id is max(id) + 1."""
    seq = _id_sequence(table)
    if seq is None:
        return
    max_id = int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}")).scalar_one())
    if is_duckdb(target):
        # DuckDB has no setval: draw max(id) values from the fresh sequence (one vectorised query).
        if max_id:
            conn.execute(text(f"SELECT MAX(nextval('{seq.name}')) FROM range({max_id})")).scalar()
    else:
        conn.execute(text("SELECT setval(:s, :v, false)"), {"s": seq.name, "v": max_id + 1})


def migrate(
    *, source: Engine, target_url: str, actor: Actor = SYSTEM, progress: Progress | None = None
) -> MigrateReport:
    """Copy every table of `source` into the empty database at `target_url` and verify the copy.

    Raises RuleViolation when the target is the source or already holds data, or when the
    verification finds a difference (the target is then left as it is, for inspection).
    """
    require(actor, Action.manage_users)
    if make_url(target_url) == source.url:
        raise RuleViolation("移行先が現在のデータベースと同じです。別の接続先を指定してください。")
    schema.require_current(source)
    target = get_engine(target_url)
    schema.ensure(target)
    existing = {name: n for name, n in row_counts(target).items() if n}
    if existing:
        listed = "、".join(f"{name} {n:,}行" for name, n in existing.items())
        raise RuleViolation(f"移行先にデータがあります（{listed}）。空のデータベースを指定してください。")

    all_tables = tables()
    total = len(all_tables) + 2
    report = MigrateReport(
        source=source.url.render_as_string(hide_password=True), target=safe_url(target_url)
    )
    # src_conn.begin(): one snapshot of the source
    with source.connect() as src_conn, target.begin() as dst_conn, src_conn.begin():
        for i, table in enumerate(all_tables):
            if progress is not None:
                progress(f"表 {table.name}", i, total)
            copied = 0
            batches = _read_batches(src_conn, source, table)
            if self_references(table.name) and is_duckdb(target):
                whole = list(batches)  # the whole table in one statement: see _write_batch
                batches = iter([pa.Table.from_batches(whole)] if whole else [])
            for batch in batches:
                if batch.num_rows:
                    _write_batch(
                        dst_conn,
                        target,
                        table,
                        pa.table(batch) if isinstance(batch, pa.RecordBatch) else batch,
                    )
                    copied += batch.num_rows
            report.tables[table.name] = copied
            _reset_sequence(dst_conn, target, table)
    if progress is not None:
        progress("検証", len(all_tables), total)
    _verify(source, target, report)
    with write_session(target) as session:
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.migrate,
            entity="database",
            after={"source": report.source, "tables": report.tables, "balance_yen": report.balance_yen},
            reason="データベースの移行",
        )
    checkpoint(target)
    if progress is not None:
        progress("完了", total, total)
    return report


def _verify(source: Engine, target: Engine, report: MigrateReport) -> None:
    src_counts = row_counts(source)
    dst_counts = row_counts(target)
    diffs = [
        f"{name}（移行元 {src_counts[name]:,}行・移行先 {dst_counts.get(name, 0):,}行）"
        for name in src_counts
        if src_counts[name] != dst_counts.get(name, 0) or src_counts[name] != report.tables.get(name)
    ]
    if diffs:
        raise RuleViolation("移行後の行数が一致しません: " + "、".join(diffs))
    src_balance = ledger.balance(source)
    dst_balance = ledger.balance(target)
    if src_balance != dst_balance:
        raise RuleViolation(
            f"移行後の基金残高が一致しません（移行元 {src_balance:,}円・移行先 {dst_balance:,}円）。"
        )
    report.balance_yen = dst_balance
    broken = audit.verify_chain(target)
    if broken is not None:
        raise RuleViolation(f"移行先の監査ログの連鎖が番号 {broken} で途切れています。")
