"""Single sign-on mapping and account administration: who may sign in, and every change audited."""

import pytest
from sqlalchemy import Engine

from fund import audit, auth
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import Role
from tests.conftest import make_actor

STRONG = "kihon-kikin-2024"


def _actions(engine: Engine) -> list[str]:
    return query_df(engine, "SELECT action FROM audit_log ORDER BY id")["action"].tolist()


def test_a_linked_subject_signs_in_with_its_role_and_the_sign_in_is_audited(
    engine: Engine, admin: Actor
) -> None:
    auth.create_user(
        engine, actor=admin, login="sato", role=Role.screener, password=None, display_name="佐藤"
    )
    auth.link_oidc_subject(engine, actor=admin, login="sato", subject="entra-sub-123")
    actor = auth.actor_for_oidc(engine, subject="entra-sub-123", email="sato@pref.example.jp")
    assert (actor.login, actor.role, actor.display_name) == ("sato", Role.screener, "佐藤")
    assert _actions(engine)[-1] == "user.sign_in"
    assert audit.verify_chain(engine) is None


def test_an_unknown_identity_is_refused_and_told_to_ask_the_administrator(engine: Engine) -> None:
    with pytest.raises(PermissionDenied, match="管理者に利用登録を依頼") as exc:
        auth.actor_for_oidc(engine, subject="stranger", email="who@example.com")
    assert "who@example.com" in exc.value.message
    assert _actions(engine)[-1] == "user.sign_in_refused"


def test_a_registered_email_is_replaced_by_the_subject_on_first_sign_in(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="suzuki", role=Role.executive, password=None)
    auth.link_oidc_subject(engine, actor=admin, login="suzuki", subject="Suzuki@Pref.example.jp")
    actor = auth.actor_for_oidc(engine, subject="sub-999", email="suzuki@pref.example.jp")
    assert actor.login == "suzuki"
    stored = query_df(engine, "SELECT oidc_subject FROM app_user WHERE login = 'suzuki'")[
        "oidc_subject"
    ].iloc[0]
    assert stored == "sub-999"
    # From now on the sub alone identifies the user; the address no longer does.
    assert auth.actor_for_oidc(engine, subject="sub-999").login == "suzuki"
    with pytest.raises(PermissionDenied):
        auth.actor_for_oidc(engine, subject="another-sub", email="suzuki@pref.example.jp")
    assert "user.oidc_bind" in _actions(engine)


def test_a_deactivated_user_cannot_sign_in_by_either_route(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="tanaka", role=Role.screener, password=STRONG)
    auth.link_oidc_subject(engine, actor=admin, login="tanaka", subject="sub-t")
    auth.set_user_active(engine, actor=admin, login="tanaka", active=False, reason="異動")
    with pytest.raises(PermissionDenied, match="無効化"):
        auth.actor_for_oidc(engine, subject="sub-t")
    with pytest.raises(RuleViolation):
        auth.authenticate(engine, login="tanaka", password=STRONG)
    auth.set_user_active(engine, actor=admin, login="tanaka", active=True)
    assert auth.authenticate(engine, login="tanaka", password=STRONG).login == "tanaka"
    assert {"user.deactivate", "user.reactivate"} <= set(_actions(engine))


def test_a_subject_cannot_be_linked_to_two_users(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="aaa", role=Role.screener, password=None)
    auth.create_user(engine, actor=admin, login="bbb", role=Role.screener, password=None)
    auth.link_oidc_subject(engine, actor=admin, login="aaa", subject="same-sub")
    with pytest.raises(InputInvalid, match="aaa"):
        auth.link_oidc_subject(engine, actor=admin, login="bbb", subject="same-sub")
    with pytest.raises(InputInvalid):
        auth.link_oidc_subject(engine, actor=admin, login="bbb", subject="has space")


@pytest.mark.parametrize("role", [Role.department, Role.screener, Role.executive])
def test_only_the_administrator_links_subjects_and_deactivates_users(
    engine: Engine, admin: Actor, role: Role
) -> None:
    auth.create_user(engine, actor=admin, login="target", role=Role.screener, password=None)
    with pytest.raises(PermissionDenied):
        auth.link_oidc_subject(engine, actor=make_actor(role), login="target", subject="x")
    with pytest.raises(PermissionDenied):
        auth.set_user_active(engine, actor=make_actor(role), login="target", active=False)


def test_the_last_active_administrator_cannot_be_deactivated(engine: Engine) -> None:
    auth.ensure_admin(engine)
    other = make_actor(Role.admin, login="second")
    with pytest.raises(RuleViolation, match="管理者が1人"):
        auth.set_user_active(engine, actor=other, login="admin", active=False)
    with pytest.raises(RuleViolation, match="自分自身"):
        auth.set_user_active(engine, actor=make_actor(Role.admin, login="admin"), login="admin", active=False)


def test_a_user_changes_their_own_password_only_with_the_current_one(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="ito", role=Role.executive, password=STRONG)
    me = auth.authenticate(engine, login="ito", password=STRONG)
    with pytest.raises(InputInvalid, match="現在のパスワード"):
        auth.change_own_password(
            engine, actor=me, current_password="wrong-one-123", new_password="atarashii-2025"
        )
    with pytest.raises(InputInvalid, match="12文字以上"):
        auth.change_own_password(engine, actor=me, current_password=STRONG, new_password="short1")
    auth.change_own_password(engine, actor=me, current_password=STRONG, new_password="atarashii-2025")
    assert auth.authenticate(engine, login="ito", password="atarashii-2025").login == "ito"
    reasons = query_df(engine, "SELECT reason FROM audit_log WHERE action = 'user.password'")[
        "reason"
    ].tolist()
    assert reasons == ["本人による変更"]


def test_the_cli_links_a_user_to_an_organisation_account(
    engine: Engine, admin: Actor, capsys: pytest.CaptureFixture[str]
) -> None:
    from fund.ops.cli import main

    auth.create_user(engine, actor=admin, login="okada", role=Role.admin, password=None)
    assert main(["user", "link", "okada", "okada@pref.example.jp"]) == 0
    assert "紐付けました" in capsys.readouterr().out
    assert auth.actor_for_oidc(engine, subject="sub-o", email="okada@pref.example.jp").login == "okada"
    assert main(["user", "link", "nobody", "x"]) == 2
    assert "登録されていません" in capsys.readouterr().err


def test_sign_outs_are_audited_with_their_reason(engine: Engine) -> None:
    auth.record_sign_out(
        engine, actor=make_actor(Role.executive, login="leaving"), reason="30分間操作がなかったため"
    )
    row = query_df(engine, "SELECT actor, action, reason FROM audit_log ORDER BY id DESC LIMIT 1").iloc[0]
    assert (row["actor"], row["action"], row["reason"]) == (
        "leaving",
        "user.sign_out",
        "30分間操作がなかったため",
    )


def test_an_unverified_email_never_binds_an_account(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="ueda", role=Role.screener, password=None)
    auth.link_oidc_subject(engine, actor=admin, login="ueda", subject="ueda@pref.example.jp")
    with pytest.raises(PermissionDenied):
        auth.actor_for_oidc(
            engine, subject="attacker-sub", email="ueda@pref.example.jp", email_verified=False
        )
    stored = query_df(engine, "SELECT oidc_subject FROM app_user WHERE login = 'ueda'")["oidc_subject"].iloc[
        0
    ]
    assert stored == "ueda@pref.example.jp"
