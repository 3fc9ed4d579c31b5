"""tests/integration/test_sso.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_sso import *  # noqa: F403

pytestmark = pytest.mark.postgres
