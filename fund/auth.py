"""Local accounts, roles and the permission matrix every service checks."""

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from fund import audit, clock, throttle
from fund.db import query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation
from fund.labels import ROLE
from fund.models import AppUser, AuditAction, Department, Role, SessionEnd
from fund.settings import get_settings

_HASHER = PasswordHasher()
# Checked when the login is unknown or cannot sign in, so that every failure costs the same time.
_DECOY_HASH = _HASHER.hash("decoy-password-for-unknown-logins")
DISPLAY_NAME_MAX = 60
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
# Names the audit log uses for the system itself, and names that suggest authority: never a user's.
RESERVED_LOGINS = frozenset({"system", "seed", "root", "anonymous", "public", "guest", "administrator"})
PASSWORD_APP_WORDS = ("yamaguchi", "kikin", "fund", "digital", "dx", "kanri", "shinsa")
MIN_PASSWORD_SCORE = 3


class Action(str, enum.Enum):
    view_home = "view_home"
    view_fund = "view_fund"
    view_proposals = "view_proposals"
    view_screening = "view_screening"
    view_allocations = "view_allocations"
    view_kpi = "view_kpi"
    view_admin = "view_admin"
    create_proposal = "create_proposal"
    edit_proposal = "edit_proposal"
    submit_proposal = "submit_proposal"
    change_status = "change_status"
    override_status = "override_status"  # a status change outside the normal workflow
    score = "score"
    screening_exception = "screening_exception"  # rubric after scoring, adoption below the minimum
    decide_round = "decide_round"
    allocate = "allocate"
    approve_allocation = "approve_allocation"
    set_annual_cap = "set_annual_cap"
    post_ledger = "post_ledger"
    approve_drawdown = "approve_drawdown"  # the second person for a drawdown that needs one
    set_drawdown_threshold = "set_drawdown_threshold"
    close_year = "close_year"
    enter_kpi_actual = "enter_kpi_actual"
    export = "export"
    manage_users = "manage_users"


ACTION_LABEL = {
    Action.view_home: "ホームの閲覧",
    Action.view_fund: "基金の状況の閲覧",
    Action.view_proposals: "事業提案の閲覧",
    Action.view_screening: "審査・採点の閲覧",
    Action.view_allocations: "年度配分の閲覧",
    Action.view_kpi: "成果指標の閲覧",
    Action.view_admin: "管理画面の閲覧",
    Action.create_proposal: "提案の作成",
    Action.edit_proposal: "提案の編集",
    Action.submit_proposal: "提案の提出",
    Action.change_status: "提案の状態変更",
    Action.override_status: "提案の状態の例外変更",
    Action.score: "採点",
    Action.screening_exception: "審査の例外（採点開始後の評価基準変更・審査件数不足の採択・未採点のままの確定）",
    Action.decide_round: "審査結果の確定",
    Action.allocate: "配分の登録",
    Action.approve_allocation: "配分の承認",
    Action.set_annual_cap: "年間上限額の設定",
    Action.post_ledger: "基金台帳への記帳",
    Action.approve_drawdown: "取崩しの承認",
    Action.set_drawdown_threshold: "取崩しの承認基準額の設定",
    Action.close_year: "年度の決算確定",
    Action.enter_kpi_actual: "成果指標の実績入力",
    Action.export: "帳票の出力",
    Action.manage_users: "利用者の管理",
}

_VIEW_ALL = {
    Action.view_home,
    Action.view_fund,
    Action.view_proposals,
    Action.view_screening,
    Action.view_allocations,
    Action.view_kpi,
}

# The one place that says who may do what. Department staff are further limited to their own
# department by the services (see `require_department`).
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.department: frozenset(
        (_VIEW_ALL - {Action.view_screening})
        | {
            Action.create_proposal,
            Action.edit_proposal,
            Action.submit_proposal,
            Action.enter_kpi_actual,
            Action.export,
        }
    ),
    Role.screener: frozenset(
        _VIEW_ALL
        | {
            Action.create_proposal,
            Action.edit_proposal,
            Action.submit_proposal,
            Action.change_status,
            Action.score,
            Action.allocate,
            Action.export,
        }
    ),
    Role.executive: frozenset(
        _VIEW_ALL | {Action.approve_allocation, Action.approve_drawdown, Action.decide_round, Action.export}
    ),
    Role.admin: frozenset(Action),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: what services receive instead of a UI session."""

    login: str
    role: Role
    department_id: int | None = None
    display_name: str = ""

    @property
    def role_label(self) -> str:
        return ROLE[self.role]


SYSTEM = Actor(login="system", role=Role.admin, display_name="システム")


def can(actor: Actor, action: Action) -> bool:
    return action in PERMISSIONS[actor.role]


def require(actor: Actor, action: Action) -> None:
    """Raise PermissionDenied (Japanese message) unless the actor's role allows the action."""
    if not can(actor, action):
        raise PermissionDenied(f"{actor.role_label}の権限では「{ACTION_LABEL[action]}」はできません。")


NO_DEPARTMENT = -1  # the scope of a 事業担当 account bound to no department: it matches no record


def department_scope(actor: Actor) -> int | None:
    """The one department whose records the actor may see and touch, or None for every department.

    事業担当 are bound to their own 所管部局 (an account without one sees nothing); every other role
    sees the whole fund. Services apply this themselves, so a page cannot forget it."""
    if actor.role != Role.department:
        return None
    return actor.department_id if actor.department_id is not None else NO_DEPARTMENT


def assignable_as_reviewer(role: Role) -> bool:
    """Only 審査担当 accounts are assigned proposals to score (管理者 may score, but are not assigned)."""
    return role == Role.screener


def scoped_department(actor: Actor, department_id: int | None) -> int | None:
    """The department filter a read applies: the actor's own for 事業担当, else the one asked for."""
    own = department_scope(actor)
    return own if own is not None else department_id


def require_department(actor: Actor, department_id: int) -> None:
    """事業担当 may only touch their own department's records."""
    own = department_scope(actor)
    if own is not None and own != department_id:
        raise PermissionDenied("事業担当は自部局の事業のみ閲覧・編集できます。")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password_strength(password: str, *, login: str = "", display_name: str = "") -> None:
    """Long enough, not containing the login, and hard to guess by zxcvbn's estimate (score 3 of 4:
    dictionary words, keyboard runs, dates and the login, display name and the app's own words)."""
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise InputInvalid({"password": f"パスワードは{minimum}文字以上にしてください。"})
    if login and login.lower() in password.lower():
        raise InputInvalid({"password": "パスワードにログイン名を含めないでください。"})
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # imported when needed: it loads dictionaries

    inputs = [w for w in (login, display_name, *PASSWORD_APP_WORDS) if w]
    if zxcvbn(password, user_inputs=inputs)["score"] < MIN_PASSWORD_SCORE:
        raise InputInvalid(
            {
                "password": "推測されやすいパスワードです。よく使われる単語・キーボードの並び・日付・"
                "ログイン名などを避け、より長く組み合わせてください。"
            }
        )


def generate_password() -> str:
    """A random 20-character password that passes `check_password_strength`."""
    while True:
        password = secrets.token_urlsafe(15)
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


def create_user(
    engine: Engine,
    *,
    actor: Actor,
    login: str,
    role: Role,
    password: str | None,
    display_name: str = "",
    department_name: str | None = None,
) -> AppUser:
    """Create a local account. Raises InputInvalid for a bad login, weak password or unknown department."""
    require(actor, Action.manage_users)
    errors: dict[str, str] = {}
    if not LOGIN_PATTERN.match(login):
        errors["login"] = "ログイン名は英小文字・数字・記号(._-)で3〜60文字にしてください。"
    elif login in RESERVED_LOGINS:
        errors["login"] = f"「{login}」はシステムが使う名前のため、ログイン名にできません。"
    if role == Role.department and not department_name:
        errors["department"] = "事業担当には所管部局の指定が必要です。"
    if len(display_name) > DISPLAY_NAME_MAX:
        errors["display_name"] = (
            f"表示名は{DISPLAY_NAME_MAX}文字以内にしてください（{len(display_name):,}文字）。"
        )
    if errors:
        raise InputInvalid(errors)
    if password is not None:
        check_password_strength(password, login=login, display_name=display_name)
    with write_session(engine) as session:
        if session.exec(select(AppUser).where(AppUser.login == login)).first():
            raise InputInvalid({"login": f"ログイン名「{login}」は既に使われています。"})
        department_id = _department_id(session, department_name)
        user = AppUser(
            login=login,
            display_name=display_name or login,
            role=role,
            department_id=department_id,
            password_hash=hash_password(password) if password else None,
            password_changed_at=clock.now_utc() if password else None,
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.user_create,
            entity="app_user",
            entity_id=user.id,
            after=audit.snapshot(user),
        )
        session.refresh(user)
        session.expunge(user)
    return user


def _department_id(session: Session, department_name: str | None) -> int | None:
    if not department_name:
        return None
    dept = session.exec(select(Department).where(Department.name == department_name)).first()
    if dept is None:
        raise InputInvalid({"department": f"所管部局「{department_name}」は登録されていません。"})
    return dept.id


def _active_admins(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(AppUser).where(AppUser.role == Role.admin, AppUser.active == True)  # noqa: E712
    ).one()


def set_user_role(
    engine: Engine, *, actor: Actor, login: str, role: Role, department_name: str | None, reason: str
) -> None:
    """管理者: change a user's role and 所管部局 (a transfer, a new duty), with the reason audited.
    The user's open sessions end at once (`session_problem`)."""
    require(actor, Action.manage_users)
    if login == actor.login:
        raise RuleViolation("自分自身の役割・所管部局は変更できません。別の管理者に依頼してください。")
    errors: dict[str, str] = {}
    if role == Role.department and not department_name:
        errors["department"] = "事業担当には所管部局の指定が必要です。"
    if not reason.strip():
        errors["reason"] = "変更の理由（例：人事異動）を入力してください。"
    if errors:
        raise InputInvalid(errors)
    with write_session(engine) as session:
        user = _user_by_login(session, login)
        department_id = _department_id(session, department_name)
        if Role(user.role) == role and user.department_id == department_id:
            raise RuleViolation("役割・所管部局が現在と同じため、変更はありません。")
        if (
            Role(user.role) == Role.admin
            and role != Role.admin
            and user.active
            and _active_admins(session) <= 1
        ):
            raise RuleViolation(
                "有効な管理者が1人しかいないため、役割を変更できません。先に別の管理者を登録してください。"
            )
        before = {"role": Role(user.role).value, "department_id": user.department_id}
        user.role, user.department_id = role, department_id
        session.add(user)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.user_role,
            entity="app_user",
            entity_id=user.id,
            before=before,
            after={"role": role.value, "department_id": department_id},
            reason=reason.strip()[:500],
        )


def ensure_admin(engine: Engine) -> str | None:
    """On first start: create `admin` with a random password and return it; None if an admin exists."""
    with Session(engine) as session:
        exists = session.exec(
            select(AppUser.id).where(AppUser.role == Role.admin, AppUser.active == True)  # noqa: E712
        ).first()
    if exists:
        return None
    password = generate_password()
    create_user(
        engine, actor=SYSTEM, login="admin", role=Role.admin, password=password, display_name="管理者"
    )
    return password


def authenticate(engine: Engine, *, login: str, password: str, client: str = "") -> Actor:
    """Check a local sign-in. Unknown, inactive and wrong logins get the same answer in the same
    time (a password hash is checked in every case); failures slow that login from that client, and
    that client, down (`fund.throttle`) instead of locking the account."""
    settings = get_settings()
    failure = RuleViolation("ログイン名またはパスワードが正しくありません。")
    keys = throttle.keys(login, client)
    now = clock.now_utc()
    wait = throttle.wait_seconds(keys, now)
    if wait:
        raise RuleViolation(f"サインインの失敗が続いたため、{wait:,}秒後に再度お試しください。")
    with write_session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.login == login)).first()
        stored = user.password_hash if user is not None and user.active else None
        try:
            _HASHER.verify(stored or _DECOY_HASH, password)
            ok = stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            throttle.failed(keys, now, free_attempts=settings.max_failed_logins)
            raise failure
        throttle.succeeded(keys)
        audit.record(
            session, actor=login, action=AuditAction.user_sign_in, entity="app_user", entity_id=user.id
        )
        return Actor(
            login=user.login, role=user.role, department_id=user.department_id, display_name=user.display_name
        )


def set_password(engine: Engine, *, actor: Actor, login: str, new_password: str) -> None:
    """Reset (administrator) or change (own account) a password; audited without the hash."""
    if actor.login != login:
        require(actor, Action.manage_users)
    with read_session(engine) as session:
        display_name = _user_by_login(session, login).display_name
    # Checked before the write begins: the estimate loads dictionaries and must not hold the write lock.
    check_password_strength(new_password, login=login, display_name=display_name)
    with write_session(engine) as session:
        user = _user_by_login(session, login)
        user.password_hash = hash_password(new_password)
        user.password_changed_at = clock.now_utc()
        user.failed_logins = 0
        user.locked_until = None
        session.add(user)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.user_password,
            entity="app_user",
            entity_id=user.id,
            reason="管理者によるリセット" if actor.login != login else "本人による変更",
        )


def user_frame(engine: Engine) -> pd.DataFrame:
    """Users for the 管理 page (no password hashes), with code columns (`login`, `role`, `active` …)."""
    df = query_df(
        engine,
        """
        SELECT u.login, u.display_name, u.role, d.name AS department, u.active, u.is_sample,
               u.password_hash IS NOT NULL AS local_password, u.oidc_subject
        FROM app_user u LEFT JOIN department d ON d.id = u.department_id
        ORDER BY u.id
        """,
    )
    for column in ("department", "oidc_subject"):
        df[column] = [v if isinstance(v, str) else "" for v in df[column]]
    df["active"] = df["active"].astype(bool)
    return df


def user_table(users: pd.DataFrame) -> pd.DataFrame:
    """`user_frame` as the 管理 page shows it: Japanese headers and role names."""
    return users.assign(role=[ROLE[Role(r)] for r in users["role"]]).rename(
        columns={
            "login": "ログイン名",
            "display_name": "表示名",
            "role": "役割",
            "department": "所管部局",
            "active": "有効",
            "is_sample": "サンプル",
            "local_password": "パスワード設定",
            "oidc_subject": "組織アカウント",
        }
    )


# --- Single sign-on (OIDC) and account administration --------------------------------------------

OIDC_SUBJECT_MAX = 200


def _actor_of(user: AppUser) -> Actor:
    return Actor(
        login=user.login, role=user.role, department_id=user.department_id, display_name=user.display_name
    )


def actor_for_oidc(
    engine: Engine, *, subject: str, email: str | None = None, email_verified: bool | None = None
) -> Actor:
    """Map a signed-in OIDC identity to its user row (audited); refuse identities nobody registered.

    Users are found by `oidc_subject` = the token's `sub`. An administrator who does not know the
    `sub` yet may register the e-mail address instead: the first sign-in then replaces it with the
    `sub` (audited), so later sign-ins no longer depend on the address. An address the identity
    provider marks as unverified (`email_verified` false) is never used for that first match.
    """
    subject = (subject or "").strip()
    email = (email or "").strip() or None
    who = (email or subject)[:60] or "unknown"
    if not subject:
        raise PermissionDenied("組織アカウントの識別子を受け取れませんでした。管理者に連絡してください。")
    with write_session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.oidc_subject == subject)).first()
        bound_by_email = False
        if user is None and email and email_verified is not False:
            user = session.exec(
                select(AppUser).where(func.lower(AppUser.oidc_subject) == email.lower())
            ).first()
            bound_by_email = user is not None
        if user is None or not user.active:
            audit.record(
                session,
                actor=who,
                action=AuditAction.user_sign_in_refused,
                entity="app_user",
                entity_id=None if user is None else user.id,
                reason="未登録の組織アカウント" if user is None else "無効化された利用者",
            )
            session.commit()
            if user is None:
                raise PermissionDenied(
                    f"組織アカウント（{who}）はこのダッシュボードに登録されていません。"
                    "管理者に利用登録を依頼してください。"
                )
            raise PermissionDenied("この利用者は無効化されています。管理者に確認してください。")
        if bound_by_email:
            before = {"oidc_subject": user.oidc_subject}
            user.oidc_subject = subject
            session.add(user)
            audit.record(
                session,
                actor=user.login,
                action=AuditAction.user_oidc_bind,
                entity="app_user",
                entity_id=user.id,
                before=before,
                after={"oidc_subject": subject},
                reason="初回の組織アカウントでのサインイン（メールアドレスで照合）",
            )
        audit.record(
            session,
            actor=user.login,
            action=AuditAction.user_sign_in,
            entity="app_user",
            entity_id=user.id,
            reason="SSO",
        )
        return _actor_of(user)


def _user_by_login(session: Session, login: str) -> AppUser:
    user = session.exec(select(AppUser).where(AppUser.login == login)).first()
    if user is None:
        raise NotFound(f"利用者「{login}」は登録されていません。")
    return user


def link_oidc_subject(engine: Engine, *, actor: Actor, login: str, subject: str | None) -> None:
    """管理者: link a user to an OIDC `sub` (or e-mail address, see `actor_for_oidc`); empty unlinks."""
    require(actor, Action.manage_users)
    value = (subject or "").strip() or None
    if value is not None and (len(value) > OIDC_SUBJECT_MAX or any(ch.isspace() for ch in value)):
        raise InputInvalid(
            {
                "oidc_subject": f"組織アカウントの識別子は空白を含まない{OIDC_SUBJECT_MAX}文字以内にしてください。"
            }
        )
    with write_session(engine) as session:
        user = _user_by_login(session, login)
        if value is not None:
            other = session.exec(
                select(AppUser).where(
                    func.lower(AppUser.oidc_subject) == value.lower(), AppUser.id != user.id
                )
            ).first()
            if other is not None:
                raise InputInvalid(
                    {"oidc_subject": f"この識別子は既に利用者「{other.login}」に紐付けられています。"}
                )
        before = {"oidc_subject": user.oidc_subject}
        user.oidc_subject = value
        session.add(user)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.user_oidc_link if value else AuditAction.user_oidc_unlink,
            entity="app_user",
            entity_id=user.id,
            before=before,
            after={"oidc_subject": value},
        )


def set_user_active(engine: Engine, *, actor: Actor, login: str, active: bool, reason: str = "") -> None:
    """管理者: deactivate (no sign-in any more, history kept) or reactivate a user."""
    require(actor, Action.manage_users)
    if not active and login == actor.login:
        raise RuleViolation("自分自身を無効化することはできません。")
    with write_session(engine) as session:
        user = _user_by_login(session, login)
        if user.active == active:
            return
        if not active and user.role == Role.admin and _active_admins(session) <= 1:
            raise RuleViolation(
                "有効な管理者が1人しかいないため、無効化できません。先に別の管理者を登録してください。"
            )
        user.active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
        session.add(user)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.user_reactivate if active else AuditAction.user_deactivate,
            entity="app_user",
            entity_id=user.id,
            before={"active": not active},
            after={"active": active},
            reason=reason.strip()[:500],
        )


def change_own_password(engine: Engine, *, actor: Actor, current_password: str, new_password: str) -> None:
    """Every role: change one's own local password after confirming the current one."""
    with read_session(engine) as session:
        user = _user_by_login(session, actor.login)
        stored = user.password_hash
    if not stored:
        raise RuleViolation(
            "このアカウントはローカルのパスワードを使っていません（組織アカウントでサインインします）。"
        )
    keys = throttle.keys(f"password-change:{actor.login}", "")
    now = clock.now_utc()
    wait = throttle.wait_seconds(keys, now)
    if wait:
        raise InputInvalid(
            {"current_password": f"現在のパスワードの誤りが続いたため、{wait:,}秒後に再度お試しください。"}
        )
    try:
        _HASHER.verify(stored, current_password)
    except (VerificationError, InvalidHashError):
        throttle.failed(keys[:1], now, free_attempts=get_settings().max_failed_logins)
        raise InputInvalid({"current_password": "現在のパスワードが正しくありません。"}) from None
    throttle.succeeded(keys)
    if current_password == new_password:
        raise InputInvalid({"password": "新しいパスワードは現在のものと異なるものにしてください。"})
    set_password(engine, actor=actor, login=actor.login, new_password=new_password)


def uses_local_password(engine: Engine, *, login: str) -> bool:
    """Whether the user signs in with a local password (False: organisation account only)."""
    with read_session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.login == login)).first()
        return user is not None and user.password_hash is not None


def session_problem(engine: Engine, *, actor: Actor, signed_in_at: datetime) -> str | None:
    """Why a session signed in at `signed_in_at` may no longer act, or None: checked against the
    database on every run, callback and download, so that deactivation, a change of role or
    department, and a password change end every open session at once."""
    with read_session(engine) as session:  # one read per run: the user, and their last sign-out
        user = session.exec(select(AppUser).where(AppUser.login == actor.login)).first()
        ended = session.exec(select(SessionEnd.ended_at).where(SessionEnd.login == actor.login)).first()
    if user is None or not user.active:
        return "このアカウントは無効になったため、サインアウトしました。"
    if Role(user.role) != actor.role or (
        actor.role == Role.department and user.department_id != actor.department_id
    ):
        return "役割または所管部局が変更されたため、サインアウトしました。もう一度サインインしてください。"
    if user.password_changed_at is not None and clock.as_utc(user.password_changed_at) > signed_in_at:
        return "パスワードが変更されたため、サインアウトしました。新しいパスワードでサインインしてください。"
    if ended is not None and clock.as_utc(ended) > signed_in_at:
        return "ほかの画面でサインアウトしたため、この画面もサインアウトしました。"
    return None


def record_sign_out(engine: Engine, *, actor: Actor, reason: str = "", everywhere: bool = False) -> None:
    """Audit a sign-out (by the user, or by the idle/absolute timeout). The user's own sign-out
    (`everywhere`) ends their sessions on every desk."""
    with write_session(engine) as session:
        if everywhere:
            row = session.exec(select(SessionEnd).where(SessionEnd.login == actor.login)).first()
            row = row or SessionEnd(login=actor.login, ended_at=clock.now_utc())
            row.ended_at = clock.now_utc()
            session.add(row)
        audit.record(
            session, actor=actor.login, action=AuditAction.user_sign_out, entity="app_user", reason=reason
        )
