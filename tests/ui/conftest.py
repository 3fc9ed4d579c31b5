from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from fund import clock
from fund.auth import Actor
from fund.db import get_engine
from fund.models import AppUser, Role
from tests.conftest import APP, arranged, make_actor


def _registered(actor: Actor) -> None:
    """The session is checked against the database on every run: the actor must be a user there
    (added with its role and department when the test has not created it itself)."""
    with arranged(get_engine()) as session:
        if session.exec(select(AppUser).where(AppUser.login == actor.login)).first() is None:
            session.add(
                AppUser(
                    login=actor.login,
                    display_name=actor.display_name or actor.login,
                    role=actor.role,
                    department_id=actor.department_id,
                )
            )


def signed_in_app(actor: Actor, page: str | None = None) -> AppTest:
    """The app as `actor` sees it, optionally switched to `page` (e.g. 'pages/kpi.py')."""
    _registered(actor)
    at = AppTest.from_file(APP, default_timeout=60)
    now = clock.now_utc()
    at.session_state["actor"] = actor
    at.session_state["signed_in_at"] = now
    at.session_state["last_seen_at"] = now
    at.run()
    if page:
        at.switch_page(page).run()
    return at


@pytest.fixture
def app_as(seeded_engine: Engine) -> Callable[..., AppTest]:
    def open_app(
        role: Role = Role.admin, page: str | None = None, department_id: int | None = None
    ) -> AppTest:
        return signed_in_app(make_actor(role, department_id=department_id), page)

    return open_app


def press(at: AppTest, label: str) -> AppTest:
    """Click the one button labelled `label` (a form's submit button included) and rerun."""
    (button,) = [b for b in at.button if b.label == label]
    return button.click().run()
