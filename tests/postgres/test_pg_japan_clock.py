"""tests/integration/test_japan_clock.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_japan_clock import *  # noqa: F403

pytestmark = pytest.mark.postgres
