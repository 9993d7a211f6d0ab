"""The incidents desk (tenant, teams, agents, an admin) for the audit tests."""

from tests.incidents.conftest import desk  # noqa: F401
