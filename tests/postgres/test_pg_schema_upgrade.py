"""Schema migrations on PostgreSQL: Alembic's autogenerate finds no difference between the revisions
and the models, and a database made before migrations existed is upgraded with every row. The
DuckDB file cases are in tests/integration/test_schema_upgrade.py."""

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from fund import audit, ledger, proposals, schema
from fund.db import dispose_engines, get_engine, query_df
from fund.models import Role
from fund.ops import upgrade
from fund.ops.seed import SEED_ACTOR, seed
from tests.conftest import ids, make_actor, make_proposal

pytestmark = pytest.mark.postgres


def _counts(engine: Engine) -> dict[str, int]:
    names = query_df(
        engine, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )["table_name"]
    return {n: int(query_df(engine, f'SELECT COUNT(*) AS n FROM "{n}"')["n"].iloc[0]) for n in names}


def test_autogenerate_finds_no_difference_between_the_revisions_and_the_models(pg_url: str) -> None:
    engine = get_engine(pg_url)
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "head")
    assert schema.differences(engine) == []
    assert schema.status(engine).state is schema.State.current


def test_autogenerate_reports_a_column_the_models_do_not_have(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE department ADD COLUMN note VARCHAR"))
    diffs = schema.differences(engine)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("remove_column", "department", "note")]


def test_a_database_made_before_migrations_is_stamped_and_keeps_every_row(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release 0.1.0 created the tables without a version table (`fund migrate --to postgresql…`)."""
    monkeypatch.setenv("FUND_BACKUP_DIR", str(tmp_path / "backups"))
    engine = get_engine(pg_url)
    SQLModel.metadata.create_all(engine)  # what release 0.1.0 did: no version table
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    assert schema.status(engine).state is schema.State.unversioned
    # seed refuses it until upgraded; stamp it by hand here only to fill it through the services
    with pytest.raises(schema.SchemaMismatch):
        seed(engine)
    with engine.begin() as conn:
        command.stamp(schema.config(conn), schema.BASELINE)
    seed(engine)
    health = make_actor(Role.department, login="tanaka", department_id=ids(engine)["健康福祉部"])
    proposals.save_proposal(engine, actor=health, data=make_proposal(engine, 2027), submit=True)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    before = _counts(engine)
    balance = ledger.balance(engine)

    report = upgrade.upgrade(pg_url)

    assert report.before.state is schema.State.unversioned and report.after == schema.head()
    assert report.backup_dir is not None and (report.backup_dir / "manifest.json").is_file()
    after = _counts(engine)
    assert after.pop("alembic_version") == 1
    assert after == {**before, "audit_log": before["audit_log"] + 2}  # the backup's row and the upgrade's
    assert ledger.balance(engine) == balance
    assert audit.verify_chain(engine) is None
    actors = query_df(engine, "SELECT DISTINCT actor FROM audit_log")["actor"]
    assert SEED_ACTOR in set(actors)
    dispose_engines()


def test_a_newer_postgresql_database_is_refused_and_left_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(schema.SchemaMismatch, match="新しいリリース"):
        upgrade.upgrade(url)
    assert query_df(engine, "SELECT version_num FROM alembic_version")["version_num"].tolist() == [
        "9999_from_the_future"
    ]
