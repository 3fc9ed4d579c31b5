"""Text is clean: control and direction characters refused in every field and upload, look-alike
事業名 refused, and no other department's drafts named in pickers or messages."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from fund import auth, intake, proposals, reference, scenario, screening
from fund.auth import SYSTEM
from fund.db import query_df
from fund.errors import InputInvalid
from fund.models import Role
from fund.proposals import corrections
from fund.user_text import INVISIBLE_ONLY, UNUSABLE
from tests.conftest import ids, make_actor, make_proposal
from tests.integration.test_intake import csv_bytes, row, xlsx

FY = 2026
HOSTILE = {
    "NUL": "事業\x00名",
    "BEL": "事業\x07名",
    "ESC": "\x1b[31m事業",
    "DEL": "事業\x7f",
    "C1 NEL": "事業\x85",
    "right-to-left override": "計画\u202etxt.exe",
    "left-to-right embedding": "\u202a事業",
    "first-strong isolate": "事業\u2068名",
    "right-to-left mark": "事業\u200f",
    "Arabic letter mark": "事業\u061c",
}
INVISIBLE = {
    "zero-width spaces only": "\u200b\u200b",
    "ideographic space and zero-width joiner": "\u3000\u200d",
    "BOM only": "\ufeff",
    "Hangul filler": "\u3164",
}


def _health(engine: Engine):  # type: ignore[no-untyped-def]
    return make_actor(Role.department, login="kenko", department_id=ids(engine)["健康福祉部"])


@pytest.mark.parametrize("case", list(HOSTILE))
def test_control_and_direction_characters_are_refused_at_the_field(seeded_engine: Engine, case: str) -> None:
    for field in ("project_name", "summary", "req1_reason"):
        data = make_proposal(seeded_engine, FY, **{field: HOSTILE[case]})
        with pytest.raises(InputInvalid) as exc:
            proposals.save_proposal(seeded_engine, actor=_health(seeded_engine), data=data)
        assert UNUSABLE in exc.value.field_errors[field]


@pytest.mark.parametrize("case", list(INVISIBLE))
def test_a_name_of_invisible_characters_only_is_refused(seeded_engine: Engine, case: str) -> None:
    data = make_proposal(seeded_engine, FY, project_name=INVISIBLE[case])
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(seeded_engine, actor=_health(seeded_engine), data=data)
    assert set(exc.value.field_errors) >= {"project_name"}
    assert any(m in exc.value.field_errors["project_name"] for m in (INVISIBLE_ONLY, "事業名を入力"))


def test_tabs_and_line_breaks_are_text(seeded_engine: Engine) -> None:
    data = make_proposal(seeded_engine, FY, summary="一行目\n二行目\r\n\t字下げ")
    saved = proposals.save_proposal(seeded_engine, actor=_health(seeded_engine), data=data)
    stored = query_df(seeded_engine, "SELECT summary FROM proposal WHERE id = :i", {"i": saved.id})
    assert stored["summary"].iloc[0] == "一行目\n二行目\r\n\t字下げ"


def test_every_other_service_refuses_them_before_anything_is_written(seeded_engine: Engine) -> None:
    """The last check sits under every service: whatever writes a row with such text is refused."""
    admin = make_actor(Role.admin, login="kanri")
    saved = proposals.save_proposal(
        seeded_engine, actor=_health(seeded_engine), data=make_proposal(seeded_engine, FY), submit=True
    )
    attempts = [
        lambda: auth.create_user(
            seeded_engine,
            actor=SYSTEM,
            login="nul_user",
            role=Role.screener,
            password=None,
            display_name="山田\x00",
        ),
        lambda: screening.create_round(seeded_engine, actor=admin, fiscal_year=FY, name="審査\u202e"),
        lambda: scenario.create_scenario(
            seeded_engine, actor=admin, name="案", fiscal_year=2025, note="備考\x1b"
        ),
        lambda: corrections.return_proposal(
            seeded_engine, actor=admin, proposal_id=saved.id or 0, reason="直して\u2066ください"
        ),
    ]
    audit_rows = int(query_df(seeded_engine, "SELECT COUNT(*) AS n FROM audit_log")["n"].iloc[0])
    for attempt in attempts:
        with pytest.raises(InputInvalid) as exc:
            attempt()
        assert UNUSABLE in " ".join(exc.value.field_errors.values())
    after = int(query_df(seeded_engine, "SELECT COUNT(*) AS n FROM audit_log")["n"].iloc[0])
    assert after == audit_rows  # nothing written, not even the audit row
    texts = query_df(seeded_engine, "SELECT reason FROM audit_log WHERE reason LIKE '%' || chr(27) || '%'")
    assert texts.empty


@pytest.mark.parametrize(
    ("filename", "build"),
    [
        ("a.csv", lambda y: csv_bytes([row(y, 事業概要="概要\x00")])),  # XML cannot even hold a NUL
        ("a.xlsx", lambda y: xlsx([row(y, 事業概要="概要\u202eexe.txt")])),
    ],
)
def test_an_upload_with_such_characters_is_refused_by_row_and_column(
    seeded_engine: Engine, filename: str, build: Callable[[int], bytes]
) -> None:
    content = build(FY + 1)
    with pytest.raises(intake.UploadInvalid) as exc:
        intake.import_upload(seeded_engine, actor=make_actor(Role.admin), filename=filename, content=content)
    row_no = 2 if filename.endswith(".csv") else 3  # the xlsx has its 記入例 row
    assert [(e.row, e.column) for e in exc.value.row_errors] == [(row_no, "事業概要")]
    assert UNUSABLE in exc.value.row_errors[0].message


def test_a_look_alike_of_an_existing_name_is_refused_never_a_second_project(seeded_engine: Engine) -> None:
    police = make_actor(Role.department, login="keisatsu", department_id=ids(seeded_engine)["警察本部"])
    look_alike = "映像解析等支援システム事業".replace("システム", "ｼｽﾃﾑ") + "\u3000"
    projects = int(query_df(seeded_engine, "SELECT COUNT(*) AS n FROM project")["n"].iloc[0])
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=police,
            data=make_proposal(
                seeded_engine, FY, project_name=look_alike, department_id=ids(seeded_engine)["警察本部"]
            ),
        )
    assert (
        "登録済みの事業「映像解析等支援システム事業」と、全角・半角や空白の違いしかありません"
        in exc.value.field_errors["project_name"]
    )
    with pytest.raises(InputInvalid) as exc:  # another department's: refused without naming it
        proposals.save_proposal(
            seeded_engine,
            actor=_health(seeded_engine),
            data=make_proposal(seeded_engine, FY, project_name=look_alike),
        )
    message = exc.value.field_errors["project_name"]
    assert "他部局の登録済みの事業名" in message and "映像解析" not in message and "警察" not in message
    assert int(query_df(seeded_engine, "SELECT COUNT(*) AS n FROM project")["n"].iloc[0]) == projects


def test_pickers_do_not_name_another_departments_drafts(seeded_engine: Engine) -> None:
    health = _health(seeded_engine)
    draft = proposals.save_proposal(
        seeded_engine, actor=health, data=make_proposal(seeded_engine, FY, project_name="未提出の健康事業")
    )
    police = make_actor(Role.department, login="keisatsu", department_id=ids(seeded_engine)["警察本部"])
    assert "未提出の健康事業" not in reference.projects(seeded_engine, viewer=police)["name"].tolist()
    assert "未提出の健康事業" in reference.projects(seeded_engine, viewer=health)["name"].tolist()
    assert (
        "未提出の健康事業"
        in reference.projects(seeded_engine, viewer=make_actor(Role.screener))["name"].tolist()
    )
    assert reference.project_count(seeded_engine, viewer=police) == reference.project_count(seeded_engine) - 1
    proposals.change_status(
        seeded_engine, actor=health, proposal_id=draft.id or 0, to_status=proposals.S.submitted
    )
    assert "未提出の健康事業" in reference.projects(seeded_engine, viewer=police)["name"].tolist()
