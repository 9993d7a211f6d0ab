"""The cross-tenant sweep's fixtures, shared with the sweeps here: B's world, and both walls."""

from tests.test_tenant_isolation import walls, world_b

__all__ = ["walls", "world_b"]
