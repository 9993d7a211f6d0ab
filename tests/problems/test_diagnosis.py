"""The diagnosis aid: for an incident, the published known errors and articles that best match
it, as far as the member may see them. A table where the best match is known."""

import pytest

from itsm.search.registry import registered
from itsm.search.selectors import _rank_in_python
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership
from knowledgebase import services as kb
from knowledgebase.choices import ArticleAudience, ArticleStatus
from problems.choices import KnownErrorStatus
from problems.selectors import diagnosis_suggestions
from tests.factories import (
    ArticleFactory,
    IncidentFactory,
    KnownErrorFactory,
    ServiceFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

PUBLISHED = KnownErrorStatus.PUBLISHED
# (incident title, the title of the known error or article that must come first)
CASES = [
    ("Outlook keeps asking for my password", "Outlook password prompt loops after update"),
    ("VPN drops every hour on the hour", "VPN disconnects hourly: re-key lifetime"),
    ("Printer on floor 3 jams", "Floor printers jam with thick paper"),
    ("Payroll export misses overtime", "Payroll export without overtime hours"),
]


@pytest.fixture
def library(tenant_a):
    items = {}
    for _incident, title in CASES:
        items[title] = KnownErrorFactory(tenant=tenant_a, title=title, status=PUBLISHED)
    # Distractors that share a word with several incidents
    KnownErrorFactory(tenant=tenant_a, title="Password reset portal slow", status=PUBLISHED)
    ArticleFactory(tenant=tenant_a, title="How to print double-sided")
    ArticleFactory(tenant=tenant_a, title="Export reports to Excel")
    KnownErrorFactory(tenant=tenant_a, title="VPN drops every hour (draft)")  # not published
    return items


def _membership(tenant, user) -> Membership:
    with rls.tenant_scope(tenant.pk):
        return Membership.objects.select_related("tenant").get(tenant=tenant, user=user)


@pytest.mark.parametrize(("incident_title", "expected"), CASES)
def test_the_best_match_ranks_first(tenant_a, make_member, library, incident_title, expected):
    incident = IncidentFactory(tenant=tenant_a, title=incident_title, description="")
    membership = _membership(tenant_a, make_member(tenant_a, MembershipRole.AGENT))
    with rls.tenant_scope(tenant_a.pk):
        suggestions = diagnosis_suggestions(incident=incident, membership=membership)
    assert suggestions[0].item.title == expected
    assert all("(draft)" not in s.item.title for s in suggestions)


@pytest.mark.parametrize(("incident_title", "expected"), CASES)
def test_the_embedded_default_ranks_the_same_first(tenant_a, library, incident_title, expected):
    """SQLite has no search structure: the Python ranking must agree on the best match."""
    with rls.tenant_scope(tenant_a.pk):
        hits = [
            hit
            for kind in ("known_error", "article")
            for hit in _rank_in_python(
                registered()[kind],
                tenant_a.pk,
                incident_title,
                [PUBLISHED],
                None,
                None,
                None,
                False,
            )
        ]
    best = max(hits, key=lambda hit: hit.rank)
    assert (best.kind, best.object_id) == ("known_error", library[expected].pk)


def test_the_same_service_ranks_higher(tenant_a, make_member):
    mail, vpn = ServiceFactory(tenant=tenant_a), ServiceFactory(tenant=tenant_a)
    ours = ArticleFactory(tenant=tenant_a, title="Mailbox full warning", service=mail)
    ArticleFactory(tenant=tenant_a, title="Mailbox full warning", service=vpn)
    incident = IncidentFactory(tenant=tenant_a, title="Mailbox full", service=mail)
    membership = _membership(tenant_a, make_member(tenant_a, MembershipRole.AGENT))
    with rls.tenant_scope(tenant_a.pk):
        suggestions = diagnosis_suggestions(incident=incident, membership=membership)
    assert suggestions[0].item.pk == ours.pk


def test_what_a_member_may_not_see_is_never_suggested(tenant_a, tenant_b, make_member):
    # Given a restricted article, an agents-only article, a known error, and B's known error
    network = TeamFactory(tenant=tenant_a)
    insider = make_member(tenant_a, MembershipRole.TENANT_ADMIN)
    restricted = ArticleFactory(tenant=tenant_a, title="Router password rotation")
    with rls.tenant_scope(tenant_a.pk):
        kb.article_restrict(
            tenant=tenant_a, article_id=restricted.pk, actor=insider, teams=[network]
        )
    ArticleFactory(
        tenant=tenant_a, title="Router reboot for requesters", audience=ArticleAudience.REQUESTERS
    )
    ArticleFactory(tenant=tenant_a, title="Router firmware notes", status=ArticleStatus.DRAFT)
    KnownErrorFactory(tenant=tenant_a, title="Router drops after firmware", status=PUBLISHED)
    KnownErrorFactory(tenant=tenant_b, title="Router of B", status=PUBLISHED)
    incident = IncidentFactory(tenant=tenant_a, title="Router problems")

    def titles(user) -> set[str]:
        membership = _membership(tenant_a, user)
        with rls.tenant_scope(tenant_a.pk):
            return {
                s.item.title
                for s in diagnosis_suggestions(incident=incident, membership=membership)
            }

    # Then an agent outside the team sees neither the restricted article nor drafts nor B's
    assert titles(make_member(tenant_a, MembershipRole.AGENT)) == {
        "Router reboot for requesters",
        "Router drops after firmware",
    }
    # and a requester only the article meant for requesters, no known error
    assert titles(make_member(tenant_a, MembershipRole.REQUESTER)) == {
        "Router reboot for requesters"
    }
