"""tests/integration/test_tampering.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_tampering import *  # noqa: F403

pytestmark = pytest.mark.postgres
