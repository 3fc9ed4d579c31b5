"""The forms that ask for a 年度 open on the same one: the budget year (the next 年度) when it is
registered, in Japan time whatever the server's zone."""

from collections.abc import Callable
from datetime import datetime

import pytest
import time_machine
from streamlit.testing.v1 import AppTest

from fund.models import Role
from tests.conftest import FY_FIRST_MINUTE, FY_LAST_MINUTE, UTC, UTC_AFTERNOON


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(UTC_AFTERNOON, 2027, id="2-December-JST-while-1-December-UTC"),
        pytest.param(FY_LAST_MINUTE, 2027, id="31-March-23:59-JST"),
        pytest.param(FY_FIRST_MINUTE, 2028, id="1-April-00:00-JST"),
        pytest.param(datetime(2026, 7, 1, 3, 0, tzinfo=UTC), 2027, id="July"),
    ],
)
def test_registration_new_round_and_proposal_forms_open_on_the_same_year(
    app_as: Callable[..., AppTest], instant: datetime, expected: int
) -> None:
    with time_machine.travel(instant, tick=True):
        registration = app_as(Role.admin, "pages/allocations.py")
        registration.session_state["alloc_tab"] = "配分の登録・承認"  # only the open tab runs
        registration.run()
        screening = app_as(Role.admin, "pages/screening.py")
        screening.session_state["screening_tab"] = "設定"
        screening.run()
        proposal = app_as(Role.admin, "pages/proposals.py")
    assert not registration.exception and not screening.exception and not proposal.exception
    assert registration.selectbox(key="reg_year").value == expected
    assert screening.selectbox(key="new_round_year").value == expected
    assert proposal.selectbox(key="pf_year").value == expected
