"""Knowledge carried to where it is used: articles linked to problems and known errors, and a
known error's workaround or an article applied on an incident while an agent diagnoses it.

Articles are named by reference and must be ones the member may see (a team-restricted article
outside the member's teams reads as a missing one). Linking and unlinking cost a fixed number
of queries whatever the number of articles, as linking incidents does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F

from incidents import timeline as incident_timeline
from incidents.choices import TERMINAL_STATUSES, EventKind
from incidents.models import Incident
from itsm.errors import ConflictError, NotFoundError
from itsm.tenancy.models import Membership, Tenant, parse_reference
from knowledgebase.choices import ArticleStatus
from knowledgebase.models import Article
from knowledgebase.selectors import article_list
from knowledgebase.services import article_record_helped
from problems import timeline
from problems.choices import KnownErrorStatus, ProblemEventKind
from problems.errors import ProblemErrorCode, ProblemRequirementError
from problems.models import ArticleLink, KnownError, KnownErrorUse, Problem, ProblemIncident
from problems.services.base import check_not_terminal, locked, save
from problems.services.links import problem_link_incidents

MAX_ARTICLES_PER_REQUEST = 100


@dataclass
class ArticleLinkResult:
    """What a link or unlink request did, by article reference."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Applied:
    """What applying a known error or article on an incident did."""

    reference: str  # KE-… or KB-…
    counted: bool  # False when it had been applied on this incident before
    linked_problem: str = ""  # the known error's problem, when the incident got linked to it


def _visible_articles(
    tenant: Tenant, membership: Membership, references: Sequence[str]
) -> list[Article]:
    """The articles named, all of them visible to the member, or a 400 naming each other one."""
    if len(references) > MAX_ARTICLES_PER_REQUEST:
        message = f"At most {MAX_ARTICLES_PER_REQUEST} articles per request."
        raise ProblemRequirementError(message, fields={"articles": [message]})
    numbers = {ref: parse_reference(Article.NUMBER_PREFIX, str(ref)) for ref in references}
    found = {
        article.number: article
        for article in article_list(tenant=tenant, membership=membership).filter(
            number__in=[number for number in numbers.values() if number is not None]
        )
    }
    missing = [ref for ref, number in numbers.items() if number not in found]
    if missing:
        raise ProblemRequirementError(
            f"No such article: {', '.join(missing)}.",
            fields={"articles": [f"{ref} is not an article of this tenant." for ref in missing]},
        )
    return sorted(
        {found[number] for number in numbers.values() if number is not None},
        key=lambda article: article.number,
    )


def _target(owner: Problem | KnownError) -> dict[str, Problem | KnownError]:
    return {"known_error": owner} if isinstance(owner, KnownError) else {"problem": owner}


def _record_articles(
    problem: Problem,
    owner: Problem | KnownError,
    articles: list[Article],
    actor: object,
    *,
    linked: bool,
) -> None:
    references = [article.reference for article in articles]
    verb = "Linked" if linked else "Unlinked"
    timeline.record(
        problem,
        ProblemEventKind.ARTICLES,
        actor,
        body=f"{verb} {', '.join(references)}"
        + (f" to {owner.reference}." if isinstance(owner, KnownError) else "."),
        data={"articles": references, "linked": linked, "record": str(owner.reference)},
    )


@transaction.atomic
def articles_link(
    *,
    tenant: Tenant,
    membership: Membership,
    owner: Problem | KnownError,
    articles: Sequence[str],
    linked: bool = True,
) -> ArticleLinkResult:
    """Link (or unlink) articles to a problem or a known error, all or none; one event on the
    problem's timeline names them.

    Raises:
        ProblemRequirementError: a reference names no article the member may see (400).
        ConflictError: the problem is closed or cancelled, or the known error retired (409).
    """
    problem = locked(tenant, owner.problem_id if isinstance(owner, KnownError) else owner.pk, None)
    check_not_terminal(problem, "link articles to")
    if isinstance(owner, KnownError) and owner.status == KnownErrorStatus.RETIRED:
        raise ConflictError(f"{owner.reference} is retired.", code=ProblemErrorCode.NOT_EDITABLE)
    found = _visible_articles(tenant, membership, articles)
    target = _target(owner)
    existing = set(
        ArticleLink.objects.for_tenant(tenant)
        .filter(article__in=found, **target)
        .values_list("article_id", flat=True)
    )
    if linked:
        changed = [article for article in found if article.pk not in existing]
        try:
            with transaction.atomic():
                ArticleLink.objects.bulk_create(
                    ArticleLink(
                        tenant_id=tenant.pk, article=article, linked_by=membership.user, **target
                    )
                    for article in changed
                )
        except IntegrityError as error:  # a concurrent request linked one meanwhile
            raise ConflictError(
                "An article was linked meanwhile; reload and try again.", code="already_linked"
            ) from error
    else:
        changed = [article for article in found if article.pk in existing]
        ArticleLink.objects.for_tenant(tenant).filter(article__in=changed, **target).delete()
    if changed:
        _record_articles(problem, owner, changed, membership.user, linked=linked)
        save(problem, [])
    changed_ids = {article.pk for article in changed}
    return ArticleLinkResult(
        changed=[article.reference for article in changed],
        unchanged=[article.reference for article in found if article.pk not in changed_ids],
    )


def _open_incident(tenant: Tenant, incident_id: int) -> Incident:
    # Read, not locked: what follows appends (timeline, counted uses under a unique key) and the
    # problem link takes its own locks in the order the link service uses.
    incident = Incident.objects.for_tenant(tenant).filter(pk=incident_id).first()
    if incident is None:
        raise NotFoundError("No such incident.")
    if incident.status in TERMINAL_STATUSES:
        raise ConflictError(
            f"{incident.reference} is {incident.get_status_display().lower()}.",
            code="invalid_transition",
        )
    return incident


@transaction.atomic
def knowledge_apply(
    *,
    tenant: Tenant,
    membership: Membership,
    incident_id: int,
    known_error: str = "",
    article: str = "",
) -> Applied:
    """Apply a known error or an article (by reference: exactly one) on an open incident.

    Raises:
        NotFoundError: no such incident, or no such published known error or article that the
            member may read (404).
        ConflictError: the incident is closed or cancelled (409).
    """
    incident = _open_incident(tenant, incident_id)
    if known_error:
        number = parse_reference(KnownError.NUMBER_PREFIX, known_error)
        if number is None:
            raise NotFoundError("No such published known error.")
        return _apply_known_error(tenant, membership, incident, number)
    number = parse_reference(Article.NUMBER_PREFIX, article)
    if number is None:
        raise NotFoundError("No such published article.")
    return _apply_article(tenant, membership, incident, number)


def _apply_known_error(
    tenant: Tenant, membership: Membership, incident: Incident, number: int
) -> Applied:
    """A published known error's workaround goes on the incident's timeline (internal), the
    known error counts the incident once, and an incident without a problem is linked to the
    known error's problem while that is open."""
    known_error = (
        KnownError.objects.for_tenant(tenant)
        .select_related("problem")
        .filter(number=number, status=KnownErrorStatus.PUBLISHED)
        .first()
    )
    if known_error is None:
        raise NotFoundError("No such published known error.")
    actor = membership.user
    _, created = KnownErrorUse.objects.get_or_create(
        tenant_id=tenant.pk,
        known_error=known_error,
        incident=incident,
        defaults={"applied_by": actor},
    )
    if created:
        KnownError.objects.for_tenant(tenant).filter(pk=known_error.pk).update(
            use_count=F("use_count") + 1
        )
    incident_timeline.record(
        incident,
        EventKind.KNOWLEDGE,
        actor,
        body=f"Workaround from {known_error.reference} {known_error.title}:\n"
        f"{known_error.workaround}",
        data={"known_error": known_error.reference, "problem": known_error.problem.reference},
    )
    problem = known_error.problem
    linked = ""
    already = ProblemIncident.objects.for_tenant(tenant).filter(incident=incident).exists()
    if not already and problem.is_open:
        problem_link_incidents(
            tenant=tenant, problem_id=problem.pk, actor=actor, incidents=[incident.reference]
        )
        linked = problem.reference
    return Applied(known_error.reference, counted=created, linked_problem=linked)


def _apply_article(
    tenant: Tenant, membership: Membership, incident: Incident, number: int
) -> Applied:
    """A published article the member may read helped with the incident: a link from the
    article to the incident, a timeline entry, and (once per incident) one more in the
    article's count of incidents it helped resolve."""
    article = (
        article_list(tenant=tenant, membership=membership)
        .filter(number=number, status=ArticleStatus.PUBLISHED)
        .first()
    )
    if article is None:
        raise NotFoundError("No such published article.")
    actor = membership.user
    link, created = ArticleLink.objects.get_or_create(
        tenant_id=tenant.pk,
        article=article,
        incident=incident,
        defaults={"linked_by": actor, "helped": True},
    )
    counted = created or not link.helped
    if counted:
        if not created:
            ArticleLink.objects.for_tenant(tenant).filter(pk=link.pk).update(helped=True)
        article_record_helped(tenant=tenant, article_id=article.pk)
    incident_timeline.record(
        incident,
        EventKind.KNOWLEDGE,
        actor,
        body=f"Applied {article.reference} {article.title}.",
        data={"article": article.reference},
    )
    return Applied(article.reference, counted=counted)
