"""tests/integration/test_allocation_export.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_allocation_export import *  # noqa: F403

pytestmark = pytest.mark.postgres
