"""The audit log reads in words: a snapshot's 年度, row numbers and times as a person reads them."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import Engine

from fund import admin, integrity, screening
from fund.auth import SYSTEM
from fund.models import AuditAction, Role
from tests.conftest import make_actor


def test_a_snapshot_shows_its_year_in_wareki_its_numbers_ungrouped_and_its_time_in_japan(
    seeded_engine: Engine,
) -> None:
    with time_machine.travel(datetime(2026, 12, 4, 22, 30, tzinfo=UTC), tick=False):
        created = screening.create_round(seeded_engine, actor=SYSTEM, fiscal_year=2026, name="語の確認")
        log = admin.audit_search(
            seeded_engine,
            actor=make_actor(Role.admin),
            filters=admin.AuditFilters(action=AuditAction.screening_round_create.value),
        )
    after = log.iloc[0]["変更後"]
    assert "年度: 令和8年度（2026年度）" in after and "2,026" not in after
    assert f"番号: {created.id}、" in after or after.endswith(f"番号: {created.id}")
    assert "重み（%）: 25・25・25・25" in after and "weights" not in after


def test_a_snapshots_moment_is_shown_in_japan_time() -> None:
    # 22:30 UTC on 4 December is 07:30 on 5 December in Japan.
    assert (
        integrity.shown("proposal", "created_at", "2026-12-04T22:30:00.000000+00:00") == "2026-12-05 07:30:00"
    )
    assert integrity.shown("proposal", "summary", "Tで始まらない説明") == "Tで始まらない説明"
