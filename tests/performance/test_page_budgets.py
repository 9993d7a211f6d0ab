"""Every workspace page (GET under /t/<tenant>/) answers in a pinned number of queries, the
same with 16 records of each kind as with 1: no query per row.

The pages come from the sweep in tests/test_tenant_pages.py, so a page added later is measured
without editing this module; it fails until the page's budget is added to BUDGETS. Each page is
opened by a tenant admin and, if requesters may open it, by a requester (" (requester)").

The counts are those of a regular (non-transactional) test: each request's transaction is a
savepoint inside the test's (SAVEPOINT and RELEASE: +2), and leaving a nested row-level-security
scope restores the outer settings (+1). In production a request sends 3 fewer. Each count is
taken after one uncounted request, once the per-process caches are warm.

The data are built once for the module and rolled back after it (tests/performance/__init__.py).
Budgets are upper bounds pinned at today's counts: a reduction passes; lower the budget with it.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from itsm.tenancy.choices import MembershipRole
from tests.performance import (
    Sizes,
    add_history,
    add_records,
    check_budget,
    measure,
    members,
    module_data,
    one_of_each,
)
from tests.test_tenant_pages import Page, page_url, tenant_pages

# The data are built by a module-scoped fixture; the marker has the test database set up.
pytestmark = pytest.mark.django_db

# Queries per page, at both sizes (see the module docstring for what a count includes).
BUDGETS: dict[str, int] = {
    "changes:action": 20,
    "changes:approvals": 11,
    "changes:calendar": 21,
    "changes:catalogue": 11,
    "changes:catalogue-template": 11,
    "changes:create": 14,
    "changes:detail": 20,
    "changes:incident-changes": 11,
    "changes:known-error-changes": 10,
    "changes:list": 14,
    "changes:problem-changes": 11,
    "changes:risk-preview": 8,
    "changes:settings": 15,
    "incidents:action": 17,
    "incidents:action (requester)": 13,
    "incidents:create": 13,
    "incidents:create (requester)": 8,
    "incidents:detail": 17,
    "incidents:detail (requester)": 13,
    "incidents:list": 14,
    "incidents:list (requester)": 11,
    "incidents:similar-open": 8,
    "incidents:similar-open (requester)": 8,
    "knowledgebase:create": 11,
    "knowledgebase:detail": 13,
    "knowledgebase:detail (requester)": 12,
    "knowledgebase:edit": 14,
    "knowledgebase:list": 14,
    "knowledgebase:list (requester)": 14,
    "knowledgebase:versions": 12,
    "metrics:dashboard": 32,
    "metrics:export": 13,
    "metrics:teams": 10,
    "problems:action": 17,
    "problems:article-records": 14,
    "problems:articles": 11,
    "problems:create": 12,
    "problems:detail": 17,
    "problems:incident-knowledge": 14,
    "problems:incident-similar": 13,
    "problems:known-error": 9,
    "problems:known-error-action": 9,
    "problems:known-error-articles": 10,
    "problems:known-errors": 10,
    "problems:link": 14,
    "problems:list": 14,
    "problems:suggestion": 10,
    "problems:suggestion-action": 10,
    "problems:suggestions": 10,
    "problems:trend-run": 10,
    "web:notifications": 9,
    "web:notifications (requester)": 9,
    "web:search": 14,
    "web:search (requester)": 11,
    "web:tenant-home": 12,
    "web:tenant-home (requester)": 12,
}

# Pages whose count grows with the rows they show: the budget holds at 16 of each record.
NOT_FLAT: dict[str, int] = {}


# Query parameters that make a page show rows (by page name): search text that matches the
# records of both sizes.
QUERY: dict[str, dict[str, str]] = {"web:search": {"q": "Incident"}}


@dataclass(frozen=True)
class Visit:
    page: Page
    role: str

    @property
    def name(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.role == MembershipRole.TENANT_ADMIN:
            return self.page.name
        return f"{self.page.name} ({self.role})"


VISITS = [
    Visit(page, role)
    for page in tenant_pages()
    if page.method == "get"
    for role in (MembershipRole.TENANT_ADMIN, MembershipRole.REQUESTER)
    if role in page.roles
]


@pytest.fixture(scope="module")
def counts(django_db_setup: None, django_db_blocker: Any) -> dict[str, Sizes]:
    """Each visit's queries with the small data set, then with the large one."""
    with module_data(django_db_blocker):
        people = members()
        one_of_each(people)
        users: dict[str, Any] = {
            MembershipRole.TENANT_ADMIN: people.admin,
            MembershipRole.REQUESTER: people.requester,
        }
        clients: dict[str, Client] = {}
        for role, user in users.items():
            clients[role] = Client()
            clients[role].force_login(user)
        # The objects a page's URL names are part of the small data set.
        urls = {
            visit.name: page_url(visit.page, people.tenant, users[visit.role])
            + (f"?{urlencode(QUERY[visit.page.name])}" if visit.page.name in QUERY else "")
            for visit in VISITS
        }
        small = {visit.name: measure(clients[visit.role], urls[visit.name]) for visit in VISITS}
        add_records(people)
        add_history(people)
        return {
            visit.name: Sizes(small[visit.name], measure(clients[visit.role], urls[visit.name]))
            for visit in VISITS
        }


def test_the_sweep_finds_the_pages() -> None:
    names = {visit.name for visit in VISITS}
    assert {"incidents:list", "incidents:detail", "incidents:list (requester)"} <= names
    assert "metrics:export" in names


@pytest.mark.parametrize("visit", VISITS, ids=str)
def test_a_page_keeps_to_its_query_budget(visit: Visit, counts: dict[str, Sizes]) -> None:
    check_budget(visit.name, counts.get(visit.name), BUDGETS, NOT_FLAT)


def test_every_budget_names_a_page() -> None:
    names = {visit.name for visit in VISITS}
    stale = (set(BUDGETS) | set(NOT_FLAT)) - names
    assert not stale, f"budgets for pages that no longer exist: {sorted(stale)}"
    assert not set(BUDGETS) & set(NOT_FLAT)
