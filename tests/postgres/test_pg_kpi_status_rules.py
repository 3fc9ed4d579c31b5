"""tests/integration/test_kpi_status_rules.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_kpi_status_rules import *  # noqa: F403

pytestmark = pytest.mark.postgres
