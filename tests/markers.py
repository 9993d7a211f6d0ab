"""Markers shared by test modules."""

import pytest

from itsm.tenancy.rls import PLATFORM_DB_ALIAS

# The test runs on the platform role's connection (see conftest's `_platform_role_routing`):
# for tests of admin pages, the timer sweep and anything else in `rls.platform_scope()`.
platform_db = pytest.mark.django_db(databases=["default", PLATFORM_DB_ALIAS])

# The test commits its rows, so platform work takes the platform role's own connection, as it
# does when live (no routing): slower (the tables are emptied after it), for the few tests of
# that path itself.
platform_db_committed = pytest.mark.django_db(
    transaction=True, databases=["default", PLATFORM_DB_ALIAS]
)

# A browser test (tests/e2e): Chromium against the live server, which runs in a thread on
# committed rows; its admin pages and sweeps take the platform connection as they do live.
e2e = [pytest.mark.e2e, pytest.mark.slow, platform_db_committed]
