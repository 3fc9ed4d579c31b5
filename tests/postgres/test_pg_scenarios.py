"""tests/integration/test_scenarios.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_scenarios import *  # noqa: F403

pytestmark = pytest.mark.postgres
