"""tests/integration/test_budget_cycle.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_budget_cycle import *  # noqa: F403

pytestmark = pytest.mark.postgres
