"""tests/integration/test_ledger_batch.py on PostgreSQL (engine fixtures from this folder's conftest.py)."""

import pytest

from tests.integration.test_ledger_batch import *  # noqa: F403

pytestmark = pytest.mark.postgres
