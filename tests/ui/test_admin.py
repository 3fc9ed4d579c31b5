"""管理 and アカウント pages: user administration, the audit log, chain check, exports, backups, SSO."""

import io
from pathlib import Path

import openpyxl
import pytest
import time_machine
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from fund import auth, clock
from fund.auth import Actor
from fund.db import query_df, write_session
from fund.errors import RuleViolation
from fund.models import Role
from tests.conftest import APP, FY_FIRST_MINUTE, FY_LAST_MINUTE, UTC_AFTERNOON, make_actor
from tests.ui.conftest import signed_in_app

STRONG = "kihon-kikin-2024"
ADMIN_PAGE = "pages/admin.py"

OIDC_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-0123456789",
    "client_id": "client",
    "client_secret": "secret",
    "server_metadata_url": "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration",
}


def click(at: AppTest, label: str) -> AppTest:
    return next(b for b in at.button if b.label == label).click().run()


def actions(engine: Engine) -> list[str]:
    return query_df(engine, "SELECT action FROM audit_log ORDER BY id")["action"].tolist()


def add_user(at: AppTest, login: str, role: Role = Role.screener, name: str = "山田 太郎") -> AppTest:
    at.text_input(key="new_login").input(login)
    at.text_input(key="new_name").input(name)
    at.selectbox(key="new_role").select(role)
    at.text_input(key="new_password").input(STRONG)
    return click(at, "追加する")


@pytest.mark.usefixtures("seeded_engine")
@pytest.mark.parametrize("role", [Role.department, Role.screener, Role.executive])
def test_only_the_administrator_opens_the_admin_page(role: Role) -> None:
    actor = make_actor(role, department_id=1 if role == Role.department else None)
    at = signed_in_app(actor)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(ADMIN_PAGE)
    # Opened directly, the page itself refuses (not only the menu).
    direct = AppTest.from_file(str(Path(APP).parent / ADMIN_PAGE), default_timeout=60)
    direct.session_state["actor"] = actor
    direct.session_state["signed_in_at"] = at.session_state["signed_in_at"]
    direct.session_state["last_seen_at"] = at.session_state["last_seen_at"]
    direct.run()
    assert not direct.exception
    assert any("権限では、このページを表示できません" in e.value for e in direct.error)
    assert not [t for t in direct.title if t.value == "管理"]


def test_the_administrator_adds_a_user_and_resets_the_password(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "yamada")
    assert not at.exception and not at.error
    assert any("yamada" in s.value for s in at.success)
    at.selectbox(key="edit_login").select("yamada").run()
    at.text_input(key="reset_password").input("reset-pass-2025")
    at = click(at, "再設定する")
    assert any("再設定しました" in s.value for s in at.success)
    assert auth.authenticate(seeded_engine, login="yamada", password="reset-pass-2025").login == "yamada"
    assert "user.password" in actions(seeded_engine)


def test_the_administrator_deactivates_and_reactivates_a_user(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "kimura")
    at.selectbox(key="edit_login").select("kimura").run()
    at.text_input(key="active_reason").input("異動")
    at = click(at, "無効化する")
    assert any("無効にしました" in s.value for s in at.success)
    active = query_df(seeded_engine, "SELECT active FROM app_user WHERE login = 'kimura'")["active"].iloc[0]
    assert not active
    at.selectbox(key="edit_login").select("kimura").run()
    at = click(at, "再び有効にする")
    assert any("有効にしました" in s.value for s in at.success)
    assert actions(seeded_engine)[-2:] == ["user.deactivate", "user.reactivate"]


def test_the_administrator_links_an_organisation_account(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "hayashi")
    at.selectbox(key="edit_login").select("hayashi").run()
    at.text_input(key="oidc_subject").input("hayashi@pref.example.jp")
    at = click(at, "紐付けを保存する")
    assert not at.error
    assert (
        auth.actor_for_oidc(seeded_engine, subject="sub-h", email="hayashi@pref.example.jp").login
        == "hayashi"
    )


def test_the_audit_log_filters_by_user_and_shows_an_empty_state(app_as) -> None:
    at = app_as(Role.admin, ADMIN_PAGE)
    at = add_user(at, "ogawa")
    at.text_input(key="audit_actor").input("test_admin").run()
    log = at.dataframe[1].value
    assert len(log) >= 1 and set(log["利用者"]) == {"test_admin"}
    at.text_input(key="audit_actor").input("nobody-at-all").run()
    assert any("条件に合う記録はありません" in i.value for i in at.info)


def test_audit_log_exports_are_audited_and_hold_no_formulas(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "formula", name="=1+2")
    at = click(at, "Excel（xlsx）を準備")
    assert not at.exception
    fmt, data = at.session_state["audit_export"]
    assert fmt == "xlsx"
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert cells and not [c for c in cells if c.data_type == "f"]
    assert actions(seeded_engine)[-1] == "export"
    exported = query_df(seeded_engine, "SELECT entity FROM audit_log ORDER BY id DESC LIMIT 1")[
        "entity"
    ].iloc[0]
    assert exported == "audit_log"
    at = click(at, "CSV を準備")
    fmt, data = at.session_state["audit_export"]
    assert fmt == "csv" and data.startswith(b"\xef\xbb\xbf")


def test_the_chain_check_reports_the_first_broken_link(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "chain")
    at = click(at, "監査ログとデータを検証する")
    assert any("一致しています" in s.value for s in at.success)
    amount = int(
        query_df(seeded_engine, "SELECT amount_yen FROM ledger_entry WHERE id = 3")["amount_yen"].iloc[0]
    )
    with write_session(seeded_engine) as session:
        session.execute(text("UPDATE ledger_entry SET amount_yen = amount_yen * 10 WHERE id = 3"))
    at = click(at, "監査ログとデータを検証する")
    assert any(f"基金台帳 番号 3: 金額（円） が 監査ログ 番号 1 では {amount:,}" in e.value for e in at.error)
    first = int(query_df(seeded_engine, "SELECT MIN(id) AS i FROM audit_log")["i"].iloc[0])
    with write_session(seeded_engine) as session:
        session.execute(text("UPDATE audit_log SET reason = 'こっそり変更' WHERE id = :i"), {"i": first})
    at = click(at, "監査ログとデータを検証する")
    assert any(f"番号 {first} で途切れています" in e.value for e in at.error)


def test_the_administrator_takes_a_backup_from_the_page(
    app_as, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_BACKUP_DIR", str(tmp_path / "backups"))
    at = click(app_as(Role.admin, ADMIN_PAGE), "今すぐバックアップ")
    assert not at.exception
    assert any("保存しました" in s.value for s in at.success)
    (folder,) = list((tmp_path / "backups").iterdir())
    assert (folder / "manifest.json").is_file()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_the_account_page(app_as, role: Role) -> None:
    at = app_as(role, "pages/account.py", department_id=1 if role == Role.department else None)
    assert not at.exception
    assert [t.value for t in at.title] == ["アカウント"]


def test_a_user_changes_their_own_password_on_the_account_page(seeded_engine: Engine, admin: Actor) -> None:
    auth.create_user(seeded_engine, actor=admin, login="nakano", role=Role.executive, password=STRONG)
    at = signed_in_app(make_actor(Role.executive, login="nakano"), "pages/account.py")
    at.text_input(key="current_password").input(STRONG)
    at.text_input(key="new_password").input("atarashii-2025")
    at.text_input(key="new_password_again").input("atarashii-2025")
    at = click(at, "変更する")
    assert not at.error
    assert any("変更しました" in s.value for s in at.success)
    assert auth.authenticate(seeded_engine, login="nakano", password="atarashii-2025").login == "nakano"


def _sso_app(user: dict[str, object]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = OIDC_SECRETS
    at.user = user
    return at.run()


@pytest.mark.usefixtures("seeded_engine")
def test_with_sso_configured_the_sign_in_page_offers_the_organisation_account() -> None:
    at = _sso_app({"is_logged_in": False})
    assert not at.exception
    labels = [b.label for b in at.button]
    assert "組織アカウントでサインイン" in labels
    assert not at.text_input  # no local password form


def test_a_linked_organisation_account_is_signed_in_with_its_role(
    seeded_engine: Engine, admin: Actor
) -> None:
    auth.create_user(
        seeded_engine, actor=admin, login="mori", role=Role.executive, password=None, display_name="森"
    )
    auth.link_oidc_subject(seeded_engine, actor=admin, login="mori", subject="entra-oid-1")
    at = _sso_app({"is_logged_in": True, "sub": "entra-oid-1", "email": "mori@pref.example.jp", "name": "森"})
    assert not at.exception
    assert at.session_state["actor"].login == "mori"
    assert any("森（幹部）" in t.value for t in at.sidebar.text)


@pytest.mark.usefixtures("seeded_engine")
def test_an_unknown_organisation_account_is_refused_with_a_japanese_message() -> None:
    at = _sso_app({"is_logged_in": True, "sub": "stranger", "email": "stranger@example.com"})
    assert not at.exception
    assert any("管理者に利用登録を依頼" in e.value for e in at.error)
    assert "actor" not in at.session_state


def test_an_identity_cookie_from_before_a_sign_out_or_the_absolute_timeout_does_not_sign_in(
    seeded_engine: Engine, admin: Actor
) -> None:
    from datetime import timedelta

    auth.create_user(seeded_engine, actor=admin, login="ueda", role=Role.executive, password=None)
    auth.link_oidc_subject(seeded_engine, actor=admin, login="ueda", subject="sub-u")
    an_hour_ago = (clock.now_utc() - timedelta(hours=1)).timestamp()
    assert _sso_app({"is_logged_in": True, "sub": "sub-u", "iat": int(an_hour_ago)}).session_state["actor"]

    auth.record_sign_out(seeded_engine, actor=make_actor(Role.executive, login="ueda"), everywhere=True)
    stale = _sso_app({"is_logged_in": True, "sub": "sub-u", "iat": int(an_hour_ago)})
    assert not stale.exception and "actor" not in stale.session_state
    assert stale.info[-1].value == "ほかの画面でサインアウトしたため、この画面もサインアウトしました。"
    assert "組織アカウントでサインインし直す" in [b.label for b in stale.button]

    thirteen_hours_ago = (clock.now_utc() - timedelta(hours=13)).timestamp()
    old = _sso_app({"is_logged_in": True, "sub": "sub-u", "iat": int(thirteen_hours_ago)})
    assert "actor" not in old.session_state
    assert old.info[-1].value == "サインインから12時間が経過したため、サインアウトしました。"
    fresh = _sso_app({"is_logged_in": True, "sub": "sub-u", "iat": int(clock.now_utc().timestamp())})
    assert fresh.session_state["actor"].login == "ueda"


def test_an_idle_sso_session_ends_the_identity_too(seeded_engine: Engine, admin: Actor) -> None:
    from datetime import timedelta

    auth.create_user(seeded_engine, actor=admin, login="sasaki", role=Role.executive, password=None)
    auth.link_oidc_subject(seeded_engine, actor=admin, login="sasaki", subject="sub-s")
    at = _sso_app({"is_logged_in": True, "sub": "sub-s"})
    assert at.session_state["actor"].login == "sasaki"
    at.session_state["last_seen_at"] = at.session_state["last_seen_at"] - timedelta(minutes=31)
    at.run()
    assert not at.exception
    assert "actor" not in at.session_state
    assert at.user == {"is_logged_in": False}  # st.logout() ended the identity cookie
    reason = query_df(seeded_engine, "SELECT reason FROM audit_log WHERE action = 'user.sign_out'")["reason"]
    assert reason.str.contains("操作がなかった").any()


@pytest.mark.parametrize(
    "instant",
    [
        pytest.param(FY_LAST_MINUTE, id="31-March-23:59-JST"),
        pytest.param(FY_FIRST_MINUTE, id="1-April-00:00-JST"),
        pytest.param(UTC_AFTERNOON, id="15:30-UTC"),
    ],
)
def test_the_audit_log_opens_on_a_period_that_holds_the_action_just_made(app_as, instant) -> None:
    with time_machine.travel(instant, tick=True):
        at = add_user(app_as(Role.admin, ADMIN_PAGE), "imai")
        log = at.dataframe[1].value
    assert not at.exception
    assert list(log.iloc[0][["利用者", "操作", "操作コード"]]) == [
        "test_admin",
        "利用者の登録",
        "user.create",
    ]


def test_the_administrator_moves_a_user_to_another_role_and_department(app_as, seeded_engine: Engine) -> None:
    """A transfer: the role and 所管部局 change with the reason audited, and the user's sessions end."""
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "matsuda")
    at.selectbox(key="edit_login").select("matsuda").run()
    at.selectbox(key="role_matsuda").select(Role.department).run()
    at = click(at, "役割・所管部局を変更する")
    assert [e.value for e in at.error] == [
        "事業担当には所管部局の指定が必要です。",
        "変更の理由（例：人事異動）を入力してください。",
    ]
    at.selectbox(key="role_dept_matsuda").select("健康福祉部")
    at.text_input(key="role_reason_matsuda").input("4月1日付 人事異動")
    at = click(at, "役割・所管部局を変更する")
    assert any("（事業担当、健康福祉部）" in s.value for s in at.success)
    user = query_df(
        seeded_engine,
        "SELECT u.role, d.name FROM app_user u JOIN department d ON d.id = u.department_id WHERE u.login = 'matsuda'",
    )
    assert user.values.tolist() == [[Role.department.value, "健康福祉部"]]
    assert actions(seeded_engine)[-1] == "user.role"
    screener = auth.Actor(login="matsuda", role=Role.screener)
    assert auth.session_problem(seeded_engine, actor=screener, signed_in_at=clock.now_utc()) == (
        "役割または所管部局が変更されたため、サインアウトしました。もう一度サインインしてください。"
    )


def test_the_last_administrator_and_oneself_keep_their_role(seeded_engine: Engine) -> None:
    acting = make_actor(Role.admin, login="acting_admin")
    with pytest.raises(RuleViolation, match="自分自身の役割・所管部局は変更できません"):
        auth.set_user_role(
            seeded_engine,
            actor=acting,
            login="acting_admin",
            role=Role.screener,
            department_name=None,
            reason="異動",
        )
    auth.create_user(seeded_engine, actor=acting, login="only_admin", role=Role.admin, password=None)
    admins = query_df(
        seeded_engine, "SELECT COUNT(*) AS n FROM app_user WHERE role = :r AND active", {"r": "admin"}
    )
    assert int(admins["n"].iloc[0]) == 1
    with pytest.raises(RuleViolation, match="有効な管理者が1人しかいないため、役割を変更できません"):
        auth.set_user_role(
            seeded_engine,
            actor=acting,
            login="only_admin",
            role=Role.screener,
            department_name=None,
            reason="異動",
        )


def test_the_audit_log_reads_in_words_not_codes_or_json(app_as, seeded_engine: Engine) -> None:
    at = add_user(app_as(Role.admin, ADMIN_PAGE), "ogawa")
    at.selectbox(key="edit_login").select("ogawa").run()
    at.text_input(key="active_reason").input("退職")
    at = click(at, "無効化する")
    (table,) = [d for d in at.dataframe if "操作コード" in d.value.columns]
    log = table.value
    row = log[log["操作"] == "利用者の無効化"].iloc[0]
    assert row["対象"] == "利用者" and row["変更前"] == "有効: はい" and row["変更後"] == "有効: いいえ"
    shown = table.proto.column_order  # what the screen draws
    assert "操作コード" not in shown and "対象コード" not in shown
