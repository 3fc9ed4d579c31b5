"""tests/integration/test_screening_appendix.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_screening_appendix import *  # noqa: F403

pytestmark = pytest.mark.postgres
