"""Local accounts: hashing, strength, lockout, audited password changes, role checks."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from time_machine import TimeMachineFixture

from fund import auth
from fund.auth import Action, Actor, can, require
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import Role
from fund.ops.seed import seed
from tests.conftest import make_actor

STRONG = "kihon-kikin-2024"


def test_password_is_stored_hashed_and_sign_in_works(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password=STRONG)
    stored = query_df(engine, "SELECT password_hash FROM app_user WHERE login = 'sato'")[
        "password_hash"
    ].iloc[0]
    assert STRONG not in stored and stored.startswith("$argon2")
    actor = auth.authenticate(engine, login="sato", password=STRONG)
    assert actor.role == Role.screener


def test_weak_password_is_refused(engine: Engine, admin: Actor) -> None:
    with pytest.raises(InputInvalid) as exc:
        auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password="short")
    assert "12文字以上" in exc.value.field_errors["password"]


def test_department_user_needs_a_known_department(seeded_engine: Engine, admin: Actor) -> None:
    with pytest.raises(InputInvalid):
        auth.create_user(seeded_engine, actor=admin, login="tanaka", role=Role.department, password=STRONG)
    with pytest.raises(InputInvalid):
        auth.create_user(
            seeded_engine,
            actor=admin,
            login="tanaka",
            role=Role.department,
            password=STRONG,
            department_name="存在しない部",
        )
    user = auth.create_user(
        seeded_engine,
        actor=admin,
        login="tanaka",
        role=Role.department,
        password=STRONG,
        department_name="健康福祉部",
    )
    assert user.department_id is not None


def test_repeated_failed_sign_ins_slow_that_login_from_that_client_down(
    engine: Engine, admin: Actor, time_machine: TimeMachineFixture
) -> None:
    """Growing delays, not a lock: the owner at another desk still signs in."""
    time_machine.move_to(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), tick=False)
    auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password=STRONG)
    for _ in range(5):
        with pytest.raises(RuleViolation, match="正しくありません"):
            auth.authenticate(engine, login="sato", password="wrong-password-1", client="10.0.0.66")
    with pytest.raises(RuleViolation, match="1秒後に再度お試しください"):
        auth.authenticate(engine, login="sato", password=STRONG, client="10.0.0.66")
    assert auth.authenticate(engine, login="sato", password=STRONG, client="10.0.0.7").login == "sato"
    time_machine.shift(timedelta(seconds=1))
    with pytest.raises(RuleViolation, match="正しくありません"):
        auth.authenticate(engine, login="sato", password="wrong-password-1", client="10.0.0.66")
    with pytest.raises(RuleViolation, match="2秒後"):  # each failure doubles the wait
        auth.authenticate(engine, login="sato", password=STRONG, client="10.0.0.66")
    time_machine.shift(timedelta(seconds=2))
    assert auth.authenticate(engine, login="sato", password=STRONG, client="10.0.0.66").login == "sato"
    locked = query_df(engine, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.lock'")
    assert int(locked["n"].iloc[0]) == 0


def test_unknown_inactive_and_wrong_logins_get_the_same_answer_and_the_same_work(
    engine: Engine, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password=STRONG)
    auth.create_user(engine, actor=admin, login="kyu", role=Role.screener, password=STRONG)
    auth.set_user_active(engine, actor=admin, login="kyu", active=False, reason="退職")
    checked: list[str] = []
    real = auth._HASHER

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(auth, "_HASHER", Counting())
    answers = []
    for login, password in (("nobody", STRONG), ("kyu", STRONG), ("sato", "wrong-password-1")):
        with pytest.raises(RuleViolation) as exc:
            auth.authenticate(engine, login=login, password=password, client="10.0.0.9")
        answers.append(exc.value.message)
    assert answers == ["ログイン名またはパスワードが正しくありません。"] * 3
    assert len(checked) == 3 and all(h.startswith("$argon2") for h in checked)  # one hash check each
    for _ in range(5):  # an unknown login is slowed down exactly like a known one
        with pytest.raises(RuleViolation):
            auth.authenticate(engine, login="nobody", password=STRONG, client="10.0.0.9")
    with pytest.raises(RuleViolation, match="秒後に再度お試しください"):
        auth.authenticate(engine, login="nobody", password=STRONG, client="10.0.0.9")


@pytest.mark.parametrize(
    ("login", "password", "fragment"),
    [
        ("sato", "password1234", "推測されやすい"),
        ("sato", "qwerty123456", "推測されやすい"),
        ("sato", "1234567890ab", "推測されやすい"),
        ("sato", "sato-kikin-2024", "ログイン名を含めない"),
        ("yamaguchi2", "Yamaguchi2-fund", "ログイン名を含めない"),
    ],
)
def test_guessable_passwords_are_refused(
    engine: Engine, admin: Actor, login: str, password: str, fragment: str
) -> None:
    with pytest.raises(InputInvalid) as exc:
        auth.create_user(engine, actor=admin, login=login, role=Role.screener, password=password)
    assert fragment in exc.value.field_errors["password"]


@pytest.mark.parametrize("login", sorted(auth.RESERVED_LOGINS))
def test_the_systems_own_names_cannot_be_logins(engine: Engine, admin: Actor, login: str) -> None:
    with pytest.raises(InputInvalid) as exc:
        auth.create_user(engine, actor=admin, login=login, role=Role.admin, password=STRONG)
    assert "システムが使う名前" in exc.value.field_errors["login"]


def test_the_own_password_change_is_throttled(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password=STRONG)
    sato = make_actor(Role.screener, login="sato")
    for _ in range(5):
        with pytest.raises(InputInvalid, match="正しくありません"):
            auth.change_own_password(
                engine, actor=sato, current_password="guess-guess-1", new_password="another-long-pass-7"
            )
    with pytest.raises(InputInvalid) as exc:
        auth.change_own_password(
            engine, actor=sato, current_password=STRONG, new_password="another-long-pass-7"
        )
    assert "秒後に再度お試しください" in exc.value.field_errors["current_password"]


def test_password_reset_is_audited_without_the_hash(engine: Engine, admin: Actor) -> None:
    auth.create_user(engine, actor=admin, login="sato", role=Role.screener, password=STRONG)
    auth.set_password(engine, actor=admin, login="sato", new_password="another-long-pass-7")
    log = query_df(engine, "SELECT action, CAST(after_values AS VARCHAR) AS a FROM audit_log ORDER BY id")
    assert "user.password" in list(log["action"])
    assert not any("argon2" in str(a) for a in log["a"])
    assert auth.authenticate(engine, login="sato", password="another-long-pass-7").login == "sato"


def test_only_an_administrator_manages_users(engine: Engine) -> None:
    for role in (Role.department, Role.screener, Role.executive):
        with pytest.raises(PermissionDenied):
            auth.create_user(engine, actor=make_actor(role), login="x-user", role=Role.admin, password=STRONG)


def test_first_start_creates_one_administrator_once(engine: Engine) -> None:
    seed(engine)
    password = auth.ensure_admin(engine)
    assert password and len(password) >= 12
    assert auth.ensure_admin(engine) is None
    assert auth.authenticate(engine, login="admin", password=password).role == Role.admin


def test_sample_reviewers_cannot_sign_in(seeded_engine: Engine) -> None:
    with pytest.raises(RuleViolation):
        auth.authenticate(seeded_engine, login="sample_screener_a", password="")


# The rules of the README's page table, written out: ○ allowed, × refused.
EXPECTED_MATRIX = """
action              department screener executive admin
view_home           ○          ○        ○         ○
view_fund           ○          ○        ○         ○
view_proposals      ○          ○        ○         ○
view_screening      ×          ○        ○         ○
view_allocations    ○          ○        ○         ○
view_kpi            ○          ○        ○         ○
view_admin          ×          ×        ×         ○
create_proposal     ○          ○        ×         ○
edit_proposal       ○          ○        ×         ○
submit_proposal     ○          ○        ×         ○
change_status       ×          ○        ×         ○
override_status     ×          ×        ×         ○
score               ×          ○        ×         ○
screening_exception ×          ×        ×         ○
decide_round        ×          ×        ○         ○
allocate            ×          ○        ×         ○
approve_allocation  ×          ×        ○         ○
set_annual_cap      ×          ×        ×         ○
post_ledger         ×          ×        ×         ○
approve_drawdown    ×          ×        ○         ○
set_drawdown_threshold ×       ×        ×         ○
close_year          ×          ×        ×         ○
enter_kpi_actual    ○          ×        ×         ○
export              ○          ○        ○         ○
manage_users        ×          ×        ×         ○
"""


def _expected() -> dict[tuple[Role, Action], bool]:
    head, *rows = [line.split() for line in EXPECTED_MATRIX.strip().splitlines()]
    roles = [Role(r) for r in head[1:]]
    return {
        (role, Action(row[0])): mark == "○" for row in rows for role, mark in zip(roles, row[1:], strict=True)
    }


def test_the_expected_matrix_names_every_role_and_action() -> None:
    assert set(_expected()) == {(r, a) for r in Role for a in Action}


@pytest.mark.parametrize(("role", "action"), list(_expected()))
def test_permission_matrix_allows_or_refuses_in_japanese(role: Role, action: Action) -> None:
    actor = make_actor(role)
    if _expected()[(role, action)]:
        require(actor, action)
        assert can(actor, action)
    else:
        with pytest.raises(PermissionDenied) as exc:
            require(actor, action)
        assert "権限" in exc.value.message


def test_executives_are_read_only_apart_from_approval_and_decisions() -> None:
    writes = {a for a in Action if can(make_actor(Role.executive), a) and not a.value.startswith("view_")}
    assert writes == {Action.approve_allocation, Action.approve_drawdown, Action.decide_round, Action.export}


def test_the_cli_resets_a_password_once_on_the_terminal_when_no_administrator_can_sign_in(
    engine: Engine, admin: Actor, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from fund.ops.cli import main

    auth.create_user(engine, actor=admin, login="kanri", role=Role.admin, password=STRONG)
    assert main(["user", "reset-password", "kanri"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"パスワード: (\S+)", out)
    assert match is not None and "「アカウント」画面" in out
    assert auth.authenticate(engine, login="kanri", password=match.group(1)).role == Role.admin
    with pytest.raises(RuleViolation):
        auth.authenticate(engine, login="kanri", password=STRONG)
    audited = query_df(engine, "SELECT actor, reason FROM audit_log WHERE action = 'user.password'")
    assert audited["actor"].tolist() == ["system"] and match.group(1) not in str(audited.to_dict())
    assert main(["user", "reset-password", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err
