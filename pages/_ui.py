"""Shared UI pieces: the cached engine, the signed-in actor, and display helpers. No business rules."""

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy import Engine
from streamlit.errors import StreamlitSecretNotFoundError

from fund import audit, auth, clock, reference
from fund.auth import Action, Actor
from fund.db import get_engine
from fund.errors import DatabaseUnavailable, FundError, InputInvalid
from fund.seed import seed
from fund.settings import get_settings

ACTOR_KEY = "actor"
T = TypeVar("T")


@st.cache_resource(show_spinner="データベースを準備しています…")
def _bootstrap(url: str) -> Engine:
    """Open the database; on first start create and seed it and the administrator account."""
    engine = get_engine(url)
    seed(engine)
    password = auth.ensure_admin(engine)
    if password:
        # Printed once in the terminal that runs the app, never shown in the browser.
        print(f"管理者アカウントを作成しました。ログイン名: admin / パスワード: {password}", flush=True)
    return engine


def engine() -> Engine:
    """The app's engine. A database that cannot be opened stops the page with a Japanese message."""
    try:
        return _bootstrap(get_settings().database_url)
    except DatabaseUnavailable as exc:
        st.error(exc.message, icon=":material/database:")
        st.stop()


@st.cache_data(show_spinner=False, max_entries=200, ttl=3600)
def _cached_read(url: str, version: int, name: str, args: tuple[Any, ...], kwargs: tuple[Any, ...]) -> Any:
    module, func = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), func)(engine(), *args, **dict(kwargs))


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(engine, *args, **kwargs)` for a read service of `fund`, cached until the data changes.

    The cache key holds the database and its latest audit id: every write adds an audit row, so a
    write anywhere (this process or another app instance) makes the next read fresh."""
    url = get_settings().database_url
    version = audit.latest_id(engine())
    name = f"{fn.__module__}.{fn.__qualname__}"
    result: T = _cached_read(url, version, name, args, tuple(sorted(kwargs.items())))
    return result


DISPLAY_LIMIT = 1_000  # rows a table sends to the browser; downloads always hold every row
PICK_LIMIT = 2_000  # options a picker lists; above this a page asks for part of a name or a number


def limit_notice(
    total: int, *, limit: int | None = None, hint: str = "すべての行はダウンロードしてください。"
) -> None:
    """Say on screen that a table shows only its first `limit` (default DISPLAY_LIMIT) of `total`
    rows; nothing when all fit."""
    limit = DISPLAY_LIMIT if limit is None else limit
    if total > limit:
        st.info(f"先頭 {limit:,} 件を表示しています（全 {total:,} 件）。{hint}", icon=":material/table_rows:")


def sso_provider() -> str | None:
    """The named provider in `[auth]` of secrets.toml (e.g. [auth.microsoft]), or None for the default."""
    section = st.secrets.get("auth", {})
    if "client_id" in section:
        return None
    named = [key for key, value in section.items() if hasattr(value, "keys")]
    return named[0] if named else None


def sso_enabled() -> bool:
    """True when .streamlit/secrets.toml configures OIDC sign-in (an [auth] section)."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def sign_in(actor: Actor, *, via_sso: bool = False) -> None:
    now = clock.now_utc()
    st.session_state[ACTOR_KEY] = actor
    st.session_state["signed_in_at"] = now
    st.session_state["last_seen_at"] = now
    st.session_state["via_sso"] = via_sso


def sign_out(reason: str | None = None) -> None:
    """End the session (audited); with single sign-on also end the identity cookie (st.logout)."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    via_sso = bool(st.session_state.get("via_sso"))
    for key in (ACTOR_KEY, "signed_in_at", "last_seen_at", "via_sso"):
        st.session_state.pop(key, None)
    if actor is not None:
        try:
            auth.record_sign_out(engine(), actor=actor, reason=reason or "")
        except FundError:
            pass  # signing out must never fail
    if reason:
        st.session_state["sign_out_reason"] = reason
    if via_sso and st.user.is_logged_in:
        st.logout()


def current_actor() -> Actor | None:
    """The signed-in actor, or None. Ends the session after the idle or absolute timeout."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    settings = get_settings()
    now = clock.now_utc()
    if now - st.session_state["signed_in_at"] > timedelta(hours=settings.absolute_timeout_hours):
        sign_out(f"サインインから{settings.absolute_timeout_hours}時間が経過したため、サインアウトしました。")
        return None
    if now - st.session_state["last_seen_at"] > timedelta(minutes=settings.idle_timeout_minutes):
        sign_out(f"{settings.idle_timeout_minutes}分間操作がなかったため、サインアウトしました。")
        return None
    st.session_state["last_seen_at"] = now
    return actor


def require_actor(action: Action) -> Actor:
    """For pages: the signed-in actor, or stop with a Japanese message if not allowed."""
    actor = current_actor()
    if actor is None:
        st.warning("サインインしてください。", icon=":material/warning:")
        st.stop()
    if not auth.can(actor, action):
        st.error(f"{actor.role_label}の権限では、このページを表示できません。", icon=":material/error:")
        st.stop()
    return actor


def show_error(exc: FundError) -> None:
    if isinstance(exc, InputInvalid):
        for message in exc.field_errors.values():
            st.error(message, icon=":material/error:")
    else:
        st.error(exc.message, icon=":material/error:")


def estimate_note() -> None:
    st.caption(
        ":material/info: 「推計」は資料に記載がなく前提を置いた値、「サンプル」は動作確認用の例示データです"
        "（前提は data/README.md）。"
    )


def flash(message: str) -> None:
    """A success message that survives the rerun after a write."""
    st.session_state["flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("flash", None)
    if message:
        st.success(message, icon=":material/check_circle:")


def project_picker(
    label: str, *, key: str, department_id: int | None = None, optional: bool = False
) -> int | None:
    """A project chosen from a list, or typed as its number when there are more than PICK_LIMIT
    (the service checks that the number exists). `optional` offers 「指定なし」 (None)."""
    total = read(reference.project_count, department_id=department_id)
    if total <= PICK_LIMIT:
        projects = read(reference.projects, department_id=department_id)
        names = dict(zip(projects["id"], projects["name"], strict=True))
        options: list[int | None] = [None, *names] if optional else list(names)
        return st.selectbox(
            label, options, format_func=lambda p: "指定なし" if p is None else names[p], key=key
        )
    number = st.number_input(
        label.replace("事業", "事業番号", 1),
        min_value=1,
        step=1,
        value=None,
        key=f"{key}_id",
        help=f"事業が {total:,}件あるため番号で指定します（事業提案の一覧に表示）。",
    )
    return None if number is None else int(number)
