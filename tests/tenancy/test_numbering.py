"""Per-tenant human numbers: distinct, consecutive and gapless, even when created at once."""

import threading

import pytest
from django.db import connection, transaction

from itsm.tenancy import rls
from itsm.tenancy.models import TenantCounter, format_reference, parse_reference
from itsm.tenancy.services import allocate_number
from tests.factories import TenantFactory


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creations_get_twenty_consecutive_numbers():
    tenant = TenantFactory()
    other = TenantFactory()
    barrier = threading.Barrier(20)
    numbers: list[int] = []
    failures: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            with rls.tenant_scope(tenant.pk):
                numbers.append(allocate_number(tenant=tenant, key="INC"))
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(numbers) == list(range(1, 21))
    with rls.tenant_scope(other.pk):  # another tenant's counter starts on its own
        assert allocate_number(tenant=other, key="INC") == 1


@pytest.mark.django_db
def test_numbers_are_per_tenant_and_per_key_and_a_rollback_gives_back(tenant_a, tenant_b):
    with rls.tenant_scope(tenant_a.pk):
        assert [allocate_number(tenant=tenant_a, key="INC") for _ in range(3)] == [1, 2, 3]
        assert allocate_number(tenant=tenant_a, key="PRB") == 1
        taken = []

        def create_then_fail() -> None:
            with transaction.atomic():
                taken.append(allocate_number(tenant=tenant_a, key="INC"))
                raise RuntimeError("the creation failed after the number was taken")

        with pytest.raises(RuntimeError):
            create_then_fail()
        assert taken == [4]
        assert allocate_number(tenant=tenant_a, key="INC") == 4
        assert TenantCounter.objects.get(key="INC").last_value == 4
    with rls.tenant_scope(tenant_b.pk):
        assert allocate_number(tenant=tenant_b, key="INC") == 1


def test_references_format_and_parse():
    assert format_reference("INC", 42) == "INC-000042"
    assert format_reference("CHG", 1234567) == "CHG-1234567"
    assert parse_reference("INC", "INC-000042") == 42
    assert parse_reference("INC", "inc-42") == 42
    assert parse_reference("INC", "42") == 42
    assert parse_reference("INC", "PRB-000042") is None
    assert parse_reference("INC", "INC-abc") is None
    assert parse_reference("INC", "") is None
