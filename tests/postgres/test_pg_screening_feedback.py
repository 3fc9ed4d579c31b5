"""tests/integration/test_screening_feedback.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_screening_feedback import *  # noqa: F403

pytestmark = pytest.mark.postgres
