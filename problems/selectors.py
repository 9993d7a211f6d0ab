"""Reads of problems, known errors, linked incidents and timelines; all scoped to a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet

from incidents.choices import EventKind as IncidentEventKind
from incidents.models import Incident, IncidentEvent, SlaClock
from incidents.selectors import incident_list
from itsm.search.selectors import ranked
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from knowledgebase.choices import ArticleStatus
from knowledgebase.models import Article
from knowledgebase.selectors import article_list
from problems import trends
from problems.choices import KnownErrorStatus
from problems.models import (
    ArticleLink,
    IncidentNeighbours,
    KnownError,
    KnownErrorUse,
    Problem,
    ProblemEvent,
    ProblemIncident,
    ProblemService,
    ProblemSuggestion,
    TrendRun,
    TrendSettings,
)


def _sees_problems(membership: Membership | None) -> bool:
    # Requesters (end users) see nothing of problem management.
    return membership is None or membership.role != MembershipRole.REQUESTER


def problem_list(*, tenant: Tenant, membership: Membership | None = None) -> QuerySet[Problem]:
    """The problems a member may see, with what the list shows loaded in a fixed number of
    queries (services in one batch, the linked-incident count in the row)."""
    if not _sees_problems(membership):
        return Problem.objects.none()
    return (
        Problem.objects.for_tenant(tenant)
        .select_related("category", "assignment_team", "problem_manager")
        .prefetch_related(
            Prefetch(
                "service_links",
                queryset=ProblemService.objects.for_tenant(tenant)
                .select_related("service")
                .order_by("service__slug"),
            )
        )
        .annotate(incident_count=Count("incident_links", distinct=True))
    )


def problem_incidents(*, problem: Problem) -> QuerySet[Incident]:
    """The problem's linked incidents, by number."""
    return (
        Incident.objects.for_tenant(problem.tenant_id)
        .filter(problem_link__problem=problem)
        .select_related("assignee", "assignment_team")
        .order_by("number")
    )


def incident_problem_references(*, tenant: Tenant, incident_ids: list[int]) -> dict[int, str]:
    """The reference of the problem each of these incidents is linked to, if any: one query."""
    links = (
        ProblemIncident.objects.for_tenant(tenant)
        .filter(incident_id__in=incident_ids)
        .values_list("incident_id", "problem__number")
    )
    return {incident_id: Problem(number=number).reference for incident_id, number in links}


def problem_timeline(*, problem: Problem) -> QuerySet[ProblemEvent]:
    """The problem's events in order."""
    return (
        ProblemEvent.objects.for_tenant(problem.tenant_id)
        .filter(problem=problem)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def known_error_list(
    *, tenant: Tenant, membership: Membership | None = None
) -> QuerySet[KnownError]:
    """The known errors a member may see, with their problem."""
    if not _sees_problems(membership):
        return KnownError.objects.none()
    return KnownError.objects.for_tenant(tenant).select_related("problem")


# --- Diagnosis aid: what the first line may already know about an incident ---------------------


@dataclass(frozen=True)
class Suggestion:
    """A published known error or article that matches an incident, best first."""

    kind: str  # "known_error" or "article"
    item: KnownError | Article
    rank: float
    applied: bool = False  # already applied on this incident


DIAGNOSIS_KINDS = ("known_error", "article")


# The incident's words the match uses: its title and the first distinct words of its
# description. Every word is a term of the query and each widens the rows to rank, so a pasted
# log or a long e-mail must not make the card slow; the opening lines say what is wrong.
DIAGNOSIS_WORDS = 32


def diagnosable_incidents(*, tenant: Tenant, membership: Membership) -> QuerySet[Incident]:
    """The incidents the member may see, with only what matching reads: no joins, no users."""
    return (
        incident_list(tenant=tenant, membership=membership)
        .select_related(None)
        .prefetch_related(None)
        .only("tenant_id", "number", "title", "description", "status", "service_id", "category_id")
    )


def diagnosis_text(incident: Incident) -> str:
    words = dict.fromkeys(f"{incident.title} {incident.description}".split())
    return " ".join(list(words)[:DIAGNOSIS_WORDS])


def diagnosis_suggestions(
    *, incident: Incident, membership: Membership, limit: int = 5
) -> list[Suggestion]:
    """Published known errors and articles matching the incident's title and description (any
    word, ranked; the same service, then category, higher), as far as the member may see them:
    requesters get no known errors and only the articles meant for them; team-restricted
    articles only reach their teams (knowledgebase.selectors.article_list decides)."""
    hits = ranked(
        tenant_id=incident.tenant_id,
        kinds=DIAGNOSIS_KINDS,
        text=diagnosis_text(incident),
        limit=limit * 4,  # room for the ones this member may not see
        statuses=[KnownErrorStatus.PUBLISHED],  # the same value for articles
        service_id=incident.service_id,
        category_id=incident.category_id,
    )
    wanted = {kind: [hit.object_id for hit in hits if hit.kind == kind] for kind in DIAGNOSIS_KINDS}
    tenant = membership.tenant
    visible: dict[tuple[str, int], KnownError | Article] = {}
    if membership.role != MembershipRole.REQUESTER and wanted["known_error"]:
        for known_error in (
            KnownError.objects.for_tenant(tenant)
            .filter(pk__in=wanted["known_error"], status=KnownErrorStatus.PUBLISHED)
            .select_related("problem")  # its reference is shown
        ):
            visible[("known_error", known_error.pk)] = known_error
    if wanted["article"]:
        for article in (
            article_list(tenant=tenant, membership=membership)
            .filter(pk__in=wanted["article"], status=ArticleStatus.PUBLISHED)
            .select_related(None)
            .prefetch_related(None)  # what a suggestion shows is on the row
        ):
            visible[("article", article.pk)] = article
    found = [
        Suggestion(hit.kind, visible[(hit.kind, hit.object_id)], hit.rank)
        for hit in hits
        if (hit.kind, hit.object_id) in visible
    ][:limit]
    applied = _applied_on(incident, found)
    return [
        Suggestion(s.kind, s.item, s.rank, applied=(s.kind, s.item.pk) in applied) for s in found
    ]


def _applied_on(incident: Incident, suggestions: list[Suggestion]) -> set[tuple[str, int]]:
    """(kind, id) of the suggestions already applied on the incident: one query per kind."""
    ids = {kind: [s.item.pk for s in suggestions if s.kind == kind] for kind in DIAGNOSIS_KINDS}
    applied: set[tuple[str, int]] = set()
    if ids["known_error"]:
        uses = KnownErrorUse.objects.for_tenant(incident.tenant_id).filter(
            incident=incident, known_error_id__in=ids["known_error"]
        )
        applied |= {("known_error", pk) for pk in uses.values_list("known_error_id", flat=True)}
    if ids["article"]:
        links = ArticleLink.objects.for_tenant(incident.tenant_id).filter(
            incident=incident, article_id__in=ids["article"], helped=True
        )
        applied |= {("article", pk) for pk in links.values_list("article_id", flat=True)}
    return applied


# --- Articles linked to problems, known errors and incidents ------------------------------------


def linked_articles(
    *, owner: Problem | KnownError | Incident, membership: Membership
) -> QuerySet[Article]:
    """The articles linked to a problem, known error or incident that the member may see."""
    target = {
        Problem: "problem",
        KnownError: "known_error",
        Incident: "incident",
    }[type(owner)]
    links = ArticleLink.objects.for_tenant(owner.tenant_id).filter(**{target: owner})
    return (
        article_list(tenant=membership.tenant, membership=membership)
        .filter(pk__in=links.values("article_id"))
        .select_related(None)
        .prefetch_related(None)  # a linked article shows what is on its row
        .order_by("number")
    )


@dataclass(frozen=True)
class ArticleRecords:
    """What an article is linked to, as far as the member may see."""

    problems: list[Problem]
    known_errors: list[KnownError]
    incidents: list[Incident]


def article_records(*, article: Article, membership: Membership, limit: int = 20) -> ArticleRecords:
    """The problems, known errors and incidents (newest first, `limit` of each) an article is
    linked to; requesters see none of them (they read the article, not the desk's records)."""
    if not _sees_problems(membership):
        return ArticleRecords([], [], [])
    tenant = membership.tenant
    links = ArticleLink.objects.for_tenant(tenant).filter(article=article)
    return ArticleRecords(
        problems=list(
            Problem.objects.for_tenant(tenant)
            .filter(pk__in=links.values("problem_id"))
            .order_by("-number")[:limit]
        ),
        known_errors=list(
            KnownError.objects.for_tenant(tenant)
            .filter(pk__in=links.values("known_error_id"))
            .order_by("-number")[:limit]
        ),
        incidents=list(
            Incident.objects.for_tenant(tenant)
            .filter(pk__in=links.values("incident_id"))
            .order_by("-number")[:limit]
        ),
    )


@dataclass(frozen=True)
class Diagnosis:
    """What problem management knows about an incident, for the agent diagnosing it."""

    problem: Problem | None
    suggestions: list[Suggestion]
    articles: list[Article]  # already used on the incident


def incident_diagnosis(*, incident: Incident, membership: Membership) -> Diagnosis:
    """The incident's problem (None for requesters), the best matches, the articles used."""
    link = (
        ProblemIncident.objects.for_tenant(incident.tenant_id)
        .filter(incident=incident)
        .select_related("problem")
        .first()
    )
    return Diagnosis(
        problem=link.problem if link and _sees_problems(membership) else None,
        suggestions=diagnosis_suggestions(incident=incident, membership=membership),
        articles=list(linked_articles(owner=incident, membership=membership)),
    )


# --- Trend analysis ------------------------------------------------------------------------------


def trend_settings(*, tenant: Tenant) -> TrendSettings:
    """The tenant's trend analysis settings, or the defaults if it has none."""
    found = TrendSettings.objects.for_tenant(tenant).first()
    return found if found is not None else TrendSettings(tenant=tenant)


def trend_records(*, tenant: Tenant, since: datetime, until: datetime) -> list[trends.Record]:
    """The incidents created in the window that no problem covers, as the analysis reads them
    (one query, only the columns it uses), oldest first."""
    rows = (
        Incident.objects.for_tenant(tenant)
        .filter(created_at__gte=since, created_at__lte=until, problem_link__isnull=True)
        .order_by("created_at", "id")
        .values_list("id", "title", "description", "created_at", "service_id", "category_id")
    )
    return [trends.Record(*row) for row in rows]


@dataclass(frozen=True)
class IncidentHurt:
    """What one incident cost, for a group's evidence."""

    priority: int | None
    breaches: int = 0
    reassignments: int = 0  # assignments and escalations after its first


def trend_incident_hurt(*, tenant: Tenant, incident_ids: Sequence[int]) -> dict[int, IncidentHurt]:
    """Priority, SLA clocks breached and reassignments of each incident: three queries for every
    group of a run together, not three per group."""
    priorities = dict(
        Incident.objects.for_tenant(tenant)
        .filter(pk__in=incident_ids)
        .values_list("pk", "priority")
    )
    breaches = dict(
        SlaClock.objects.for_tenant(tenant)
        .filter(incident_id__in=incident_ids, breached_at__isnull=False)
        .values("incident_id")
        .annotate(count=Count("pk"))
        .values_list("incident_id", "count")
    )
    moves = dict(
        IncidentEvent.objects.for_tenant(tenant)
        .filter(
            incident_id__in=incident_ids,
            kind__in=[IncidentEventKind.ASSIGNMENT, IncidentEventKind.ESCALATION],
        )
        .values("incident_id")
        .annotate(count=Count("pk"))
        .values_list("incident_id", "count")
    )
    return {
        pk: IncidentHurt(priority, breaches.get(pk, 0), max(0, moves.get(pk, 0) - 1))
        for pk, priority in priorities.items()
    }


def suggestion_list(
    *, tenant: Tenant, membership: Membership | None = None
) -> QuerySet[ProblemSuggestion]:
    """The problem suggestions a member may see (problem management's: not requesters)."""
    if not _sees_problems(membership):
        return ProblemSuggestion.objects.none()
    return ProblemSuggestion.objects.for_tenant(tenant).select_related(
        "problem", "decided_by", "last_run"
    )


def suggestion_incidents(*, suggestion: ProblemSuggestion) -> QuerySet[Incident]:
    """The suggestion's incidents, newest first, with what a row shows."""
    return (
        Incident.objects.for_tenant(suggestion.tenant_id)
        .filter(suggestion_links__suggestion=suggestion)
        .select_related("service", "category", "assignment_team")
        .order_by("-created_at", "-id")
    )


def trend_run_list(*, tenant: Tenant, membership: Membership | None = None) -> QuerySet[TrendRun]:
    if not _sees_problems(membership):
        return TrendRun.objects.none()
    return TrendRun.objects.for_tenant(tenant).select_related("requested_by")


@dataclass(frozen=True)
class Similar:
    incident: Incident
    score: float


SIMILAR_LIMIT = 10


def similar_incidents(
    *, incident: Incident, membership: Membership, limit: int = SIMILAR_LIMIT
) -> list[Similar]:
    """The incidents most like this one (open or past), best first, as the member may see them.

    The last trend run stored every analysed incident's nearest neighbours with the method's
    scores; an incident it has not analysed yet (newer than the run, or outside its window)
    is matched live through the search structure, ranked by shared words."""
    stored = (
        IncidentNeighbours.objects.for_tenant(incident.tenant_id)
        .filter(incident_id=incident.pk)
        .values_list("neighbours", flat=True)
        .first()
    )
    if stored is not None:
        scores = {int(other): float(score) for other, score in stored}
    else:
        hits = ranked(
            tenant_id=incident.tenant_id,
            kinds=["incident"],
            text=diagnosis_text(incident),
            limit=limit + 1,
        )
        scores = {hit.object_id: hit.rank for hit in hits if hit.object_id != incident.pk}
    visible = (
        incident_list(tenant=membership.tenant, membership=membership)
        .filter(pk__in=list(scores))
        .select_related("problem_link__problem")
    )
    found = sorted(
        (Similar(other, scores[other.pk]) for other in visible),
        key=lambda similar: (-similar.score, -similar.incident.pk),
    )
    return found[:limit]
