"""tests/integration/test_money_forms.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_money_forms import *  # noqa: F403

pytestmark = pytest.mark.postgres
