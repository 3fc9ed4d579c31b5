"""tests/integration/test_drawdown_approval.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_drawdown_approval import *  # noqa: F403

pytestmark = pytest.mark.postgres
