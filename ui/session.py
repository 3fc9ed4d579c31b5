"""The app's engine and the signed-in actor: sign-in, sign-out, timeouts, page permissions."""

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import streamlit as st
from sqlalchemy import Engine
from streamlit.errors import StreamlitSecretNotFoundError

from fund import auth, clock, schema
from fund.auth import Action, Actor
from fund.db import get_engine, require_file
from fund.errors import DatabaseUnavailable, FundError, PermissionDenied
from fund.settings import get_settings

ACTOR_KEY = "actor"
T = TypeVar("T")


@st.cache_resource(show_spinner="データベースに接続しています…")
def _bootstrap(url: str) -> Engine:
    """Open the database. The app never creates or seeds one (only `fund init` does): a missing
    database is an error, and no administrator password is ever written to the server's log."""
    require_file(url)
    engine = get_engine(url)
    schema.require_current(engine)  # an older or newer schema: the message says what to run
    return engine


def engine() -> Engine:
    """The app's engine. A database that cannot be opened stops the page with a Japanese message."""
    try:
        return _bootstrap(get_settings().database_url)
    except DatabaseUnavailable as exc:
        st.error(exc.message, icon=":material/database:")
        # Replace the file-name menu Streamlit would list from pages/ with none.
        st.navigation([st.Page("pages/login.py", title="サインイン")], position="hidden")
        st.stop()


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


def sign_in(actor: Actor, *, via_sso: bool = False, identity_issued_at: datetime | None = None) -> None:
    """Start the session. With single sign-on the identity cookie survives a reload, a typed URL and
    a bookmark, so the session counts from when the provider issued the identity (`identity_issued_at`):
    the absolute timeout, a sign-out on another desk and a password reset end a restored session too."""
    now = clock.now_utc()
    st.session_state[ACTOR_KEY] = actor
    st.session_state["signed_in_at"] = _identity_time(identity_issued_at, now)
    st.session_state["last_seen_at"] = now
    st.session_state["via_sso"] = via_sso


def sign_out(reason: str | None = None) -> bool:
    """End the session (audited); with single sign-on also end the identity cookie (st.logout).
    True when the browser is now on its way to the provider's sign-out: the caller must not rerun,
    as a rerun's new page can overtake that redirect and leave the provider's session alive."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    via_sso = bool(st.session_state.get("via_sso"))
    for key in (ACTOR_KEY, "signed_in_at", "last_seen_at", "via_sso"):
        st.session_state.pop(key, None)
    if actor is not None:
        with contextlib.suppress(FundError):  # signing out must never fail
            # The user's own sign-out (no reason given) ends their sessions everywhere; a timeout only this one.
            auth.record_sign_out(engine(), actor=actor, reason=reason or "", everywhere=reason is None)
    if reason:
        st.session_state["sign_out_reason"] = reason
    if via_sso and st.user.is_logged_in:
        st.logout()
        return True
    return False


def _ended(actor: Actor, signed_in_at: datetime, last_seen_at: datetime) -> str | None:
    """Why the session may no longer act (a timeout, or what the database says), or None."""
    settings = get_settings()
    now = clock.now_utc()
    if now - signed_in_at > timedelta(hours=settings.absolute_timeout_hours):
        return f"サインインから{settings.absolute_timeout_hours}時間が経過したため、サインアウトしました。"
    if now - last_seen_at > timedelta(minutes=settings.idle_timeout_minutes):
        return f"{settings.idle_timeout_minutes}分間操作がなかったため、サインアウトしました。"
    return auth.session_problem(engine(), actor=actor, signed_in_at=signed_in_at)


def restored_problem(actor: Actor, identity_issued_at: datetime | None) -> str | None:
    """Why an identity restored from the SSO cookie may not start a session (issued before the
    absolute timeout, before a sign-out on any desk, before a password or role change), or None."""
    now = clock.now_utc()
    return _ended(actor, _identity_time(identity_issued_at, now), now)


def _identity_time(issued_at: datetime | None, now: datetime) -> datetime:
    """A token's `iat` is whole seconds: it counts from the end of its second (a sign-out in the
    same second as a new sign-in must not refuse it), never later than now."""
    return now if issued_at is None else min(issued_at + timedelta(seconds=1), now)


def current_actor() -> Actor | None:
    """The signed-in actor, or None: the session ends after the idle or absolute timeout, or when
    the account was deactivated, its role changed or its password reset. Callbacks that write call
    it first, as they run before the page does."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    reason = _ended(actor, st.session_state["signed_in_at"], st.session_state["last_seen_at"])
    if reason is not None:
        sign_out(reason)
        return None
    st.session_state["last_seen_at"] = clock.now_utc()
    return actor


def renew() -> None:
    """After the user's own password change: this session goes on, every other one ends."""
    st.session_state["signed_in_at"] = clock.now_utc()


def when_signed_in(callback: Callable[..., None]) -> Callable[..., None]:
    """A widget callback that runs only while the session is still valid (callbacks run before the
    page's own check)."""

    def checked(*args: object, **kwargs: object) -> None:
        if current_actor() is not None:
            callback(*args, **kwargs)

    return checked


def deferred(build: Callable[[], T]) -> Callable[[], T]:
    """`build` for a download made when the browser fetches it (outside any page run): refused if
    the session has ended by then. A download does not rerun the page, so the session's times as
    they are now are still its times when the file is fetched."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    signed_in_at, last_seen_at = st.session_state.get("signed_in_at"), st.session_state.get("last_seen_at")

    def checked() -> T:
        if actor is None or signed_in_at is None or last_seen_at is None:
            raise PermissionDenied("サインインしてください。")
        reason = _ended(actor, signed_in_at, last_seen_at)
        if reason is not None:
            raise PermissionDenied(reason)
        return build()

    return checked


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
