"""Problems and known errors in admin: read-mostly, writes through the services."""

from typing import Any

import pytest
from django.test import Client

from itsm.tenancy import rls
from problems.models import Problem, ProblemEvent
from tests.factories import KnownErrorFactory, ProblemFactory, UserFactory
from tests.markers import platform_db

pytestmark = platform_db


@pytest.fixture
def root() -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def platform_client(root: Any) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_the_platform_admin_sees_every_tenants_problems_and_known_errors(
    platform_client, tenant_a, tenant_b
):
    ours, theirs = ProblemFactory(tenant=tenant_a), ProblemFactory(tenant=tenant_b)
    known_error = KnownErrorFactory(tenant=ours.tenant, problem=ours)

    problems = platform_client.get("/admin/problems/problem/")
    known_errors = platform_client.get("/admin/problems/knownerror/")
    change = platform_client.get(f"/admin/problems/problem/{ours.pk}/change/")

    assert problems.status_code == known_errors.status_code == change.status_code == 200
    assert ours.reference in problems.content.decode()
    assert theirs.title in problems.content.decode()
    assert known_error.reference in known_errors.content.decode()
    assert platform_client.get("/admin/problems/knownerror/add/").status_code == 403


def test_a_problem_added_in_admin_goes_through_the_service(platform_client, tenant_a, admin_a):
    response = platform_client.post(
        "/admin/problems/problem/add/",
        {
            "tenant": tenant_a.pk,
            "title": "Disk fills up",
            "description": "",
            "impact": 1,
            "urgency": 1,
            "problem_manager": admin_a.pk,
            "root_cause": "",
            "workaround": "",
            **{
                f"{prefix}-{key}": value
                for prefix in ("service_links", "incident_links", "events")
                for key, value in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()
            },
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    with rls.platform_scope():
        problem = Problem.objects.get(tenant=tenant_a)
        kinds = list(ProblemEvent.objects.filter(problem=problem).values_list("kind", flat=True))
    assert (problem.reference, problem.priority, kinds) == ("PRB-000001", 1, ["created"])


def test_a_tenant_admin_reads_their_problems_only(tenant_a, tenant_b, admin_a):
    ours, theirs = ProblemFactory(tenant=tenant_a), ProblemFactory(tenant=tenant_b)
    client = Client()
    client.force_login(admin_a)

    listed = client.get("/admin/problems/problem/")

    assert listed.status_code == 200
    assert ours.title in listed.content.decode()
    assert theirs.title not in listed.content.decode()
    assert client.get(f"/admin/problems/problem/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/problems/problem/add/").status_code == 403
