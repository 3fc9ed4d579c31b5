"""Sessions checked against the database on every run and before every write callback."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from fund import auth
from fund.auth import Actor
from fund.db import query_df
from fund.models import Role
from tests.conftest import make_actor
from tests.ui.conftest import press, signed_in_app
from tests.ui.test_proposals import fill_valid, health_id  # noqa: F401 (fixture)

STRONG = "kihon-kikin-2024"
KANBU = make_actor(Role.executive, login="kanbu")


def _signed_out(at: AppTest, engine: Engine, fragment: str) -> None:
    assert not at.exception
    assert "actor" not in at.session_state
    reasons = query_df(engine, "SELECT reason FROM audit_log WHERE action = 'user.sign_out'")["reason"]
    assert reasons.str.contains(fragment).any(), reasons.tolist()


@pytest.fixture
def kanbu(seeded_engine: Engine, admin: Actor) -> AppTest:
    auth.create_user(seeded_engine, actor=admin, login="kanbu", role=Role.executive, password=STRONG)
    at = signed_in_app(KANBU)
    assert at.session_state["actor"].login == "kanbu"
    return at


def test_a_deactivated_user_is_signed_out_at_the_next_run(
    kanbu: AppTest, seeded_engine: Engine, admin: Actor
) -> None:
    auth.set_user_active(seeded_engine, actor=admin, login="kanbu", active=False, reason="異動")
    _signed_out(kanbu.run(), seeded_engine, "無効になった")


def test_a_changed_role_ends_the_session(kanbu: AppTest, seeded_engine: Engine) -> None:
    with seeded_engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET role = 'admin' WHERE login = 'kanbu'"))
    _signed_out(kanbu.run(), seeded_engine, "役割または所管部局が変更された")


def test_a_password_reset_ends_every_open_session(
    kanbu: AppTest, seeded_engine: Engine, admin: Actor
) -> None:
    auth.set_password(seeded_engine, actor=admin, login="kanbu", new_password="another-long-pass-7")
    _signed_out(kanbu.run(), seeded_engine, "パスワードが変更された")


def test_the_own_password_change_keeps_this_session_and_ends_the_others(
    kanbu: AppTest, seeded_engine: Engine
) -> None:
    other_desk = signed_in_app(KANBU)
    at = kanbu.switch_page("pages/account.py").run()
    at.text_input(key="current_password").input(STRONG)
    at.text_input(key="new_password").input("another-long-pass-7")
    at.text_input(key="new_password_again").input("another-long-pass-7")
    at = press(at, "変更する")
    assert at.session_state["actor"].login == "kanbu"
    assert any("ほかの端末のサインインは終了しました" in s.value for s in at.success)
    _signed_out(other_desk.run(), seeded_engine, "パスワードが変更された")


def test_a_form_callback_after_the_idle_timeout_writes_nothing(
    app_as: Callable[..., AppTest],
    seeded_engine: Engine,
    health_id: int,  # noqa: F811
) -> None:
    at = app_as(Role.department, "pages/proposals.py", department_id=health_id)
    fill_valid(at, "期限切れ後の提出")
    at.session_state["last_seen_at"] = at.session_state["last_seen_at"] - timedelta(minutes=31)
    at = press(at, "提出する")
    assert query_df(seeded_engine, "SELECT id FROM project WHERE name = '期限切れ後の提出'").empty
    _signed_out(at, seeded_engine, "操作がなかった")


def test_signing_out_ends_the_session_on_every_desk_but_a_timeout_only_its_own(
    kanbu: AppTest, seeded_engine: Engine
) -> None:
    other_desk = signed_in_app(KANBU)
    idle_desk = signed_in_app(KANBU)
    idle_desk.session_state["last_seen_at"] = idle_desk.session_state["last_seen_at"] - timedelta(minutes=31)
    idle_desk.run()  # this one times out; the others go on
    assert "actor" not in idle_desk.session_state
    assert other_desk.run().session_state["actor"].login == "kanbu"
    # The サインアウト button (browser test: tests/e2e/test_admin.py) signs out with everywhere=True.
    auth.record_sign_out(seeded_engine, actor=KANBU, everywhere=True)
    _signed_out(other_desk.run(), seeded_engine, "ほかの画面でサインアウトしたため")
    _signed_out(kanbu.run(), seeded_engine, "ほかの画面でサインアウトしたため")
