"""tests/integration/test_hostile_uploads.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_hostile_uploads import *  # noqa: F403

pytestmark = pytest.mark.postgres
