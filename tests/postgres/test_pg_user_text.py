"""tests/integration/test_user_text.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_user_text import *  # noqa: F403

pytestmark = pytest.mark.postgres
