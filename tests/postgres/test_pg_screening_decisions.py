"""tests/integration/test_screening_decisions.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_screening_decisions import *  # noqa: F403

pytestmark = pytest.mark.postgres
