"""Every write to the knowledge base: articles, their versions, lifecycle, restrictions, feedback.

Each service locks the article row first, checks the lifecycle table, writes, and bumps the
article's `version` (the ETag), so two editors never silently overwrite each other. Text is
never overwritten without a trace: every save of title, summary or body adds an
`ArticleVersion`, and a restore adds one more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from itsm.errors import NotFoundError
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Team, TeamMember, Tenant
from itsm.tenancy.selectors import member_role
from itsm.tenancy.services import next_number
from knowledgebase.choices import ArticleAction, ArticleStatus
from knowledgebase.errors import ArticleInputError, ArticleNotPublishedError, StaleArticleError
from knowledgebase.lifecycle import check_action, check_editable
from knowledgebase.models import (
    Article,
    ArticleFeedback,
    ArticleRestriction,
    ArticleTag,
    ArticleUserObjectPermission,
    ArticleVersion,
    Tag,
)
from knowledgebase.rendering import render_markdown

# The text of an article: a change to any of these is a new version.
TEXT_FIELDS = ("title", "summary", "body")
# Descriptive fields an editor may change without a new version.
META_FIELDS = ("audience", "service", "category", "owner")
VIEW_PERMISSION = "view_article"


# --- Helpers -----------------------------------------------------------------------------------


def _locked(tenant: Tenant, article_id: int, expected_version: int | None) -> Article:
    """The article, locked for this transaction, if the caller's version is current.

    Raises:
        NotFoundError: absent or another tenant's.
        StaleArticleError: someone changed it since the caller read it.
    """
    articles = Article.objects.for_tenant(tenant).filter(pk=article_id)
    # Lock first, then read (as the incident services do): a locking query that joins would
    # hand back the joined rows as they were before a concurrent writer committed.
    if not articles.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such article.")
    article: Article = articles.get()
    if expected_version is not None and article.version != expected_version:
        raise StaleArticleError(
            f"{article.reference} has changed since you read it; reload and try again.",
            extra={"current_version": article.version},
        )
    return article


def _save(article: Article, fields: Iterable[str]) -> None:
    # The row is locked, so the read-increment-write of version cannot lose an update.
    article.version += 1
    article.save(update_fields=[*fields, "version", "updated_at"])


def _record_version(article: Article, actor: Any, *, restored_from: int | None = None) -> None:
    ArticleVersion.objects.create(
        tenant_id=article.tenant_id,
        article=article,
        number=article.revision,
        title=article.title,
        summary=article.summary,
        body=article.body,
        author=actor,
        status=article.status,
        restored_from=restored_from,
    )


def _tags_for(tenant_id: int, names: Sequence[str]) -> list[Tag]:
    """The tenant's tags of these names, created when new; refuses a name with no slug."""
    by_slug: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())
        slug = slugify(clean)[:64]
        if not slug:
            raise ArticleInputError(
                f'"{name}" is not a usable tag.', fields={"tags": [f'"{name}" has no letters.']}
            )
        by_slug.setdefault(slug, clean[:64])
    existing = {tag.slug: tag for tag in Tag.objects.for_tenant(tenant_id).filter(slug__in=by_slug)}
    missing = [
        Tag(tenant_id=tenant_id, slug=slug, name=name)
        for slug, name in by_slug.items()
        if slug not in existing
    ]
    # A concurrent writer may create the same tag: the unique constraint keeps one row.
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    return list(Tag.objects.for_tenant(tenant_id).filter(slug__in=by_slug))


def _set_tags(article: Article, names: Sequence[str]) -> None:
    tags = _tags_for(article.tenant_id, names)
    ArticleTag.objects.for_tenant(article.tenant_id).filter(article=article).exclude(
        tag__in=tags
    ).delete()
    ArticleTag.objects.bulk_create(
        [ArticleTag(tenant_id=article.tenant_id, article=article, tag=tag) for tag in tags],
        ignore_conflicts=True,
    )


def _check_links(tenant: Tenant, data: Mapping[str, Any]) -> None:
    """Defensive: linked objects belong to the article's tenant (the API already scoped them)."""
    for name in ("service", "category"):
        linked = data.get(name)
        if linked is not None and linked.tenant_id != tenant.pk:
            raise ArticleInputError("Must belong to the same tenant.", fields={name: ["Unknown."]})


def _check_unknown(data: Mapping[str, Any]) -> None:
    """Refuse fields that only the services and the lifecycle write (status, counters …)."""
    unknown = set(data) - {*TEXT_FIELDS, *META_FIELDS, "tags"}
    if unknown:
        raise ArticleInputError(
            "These fields cannot be set directly.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )


# --- Articles ----------------------------------------------------------------------------------


@transaction.atomic
def article_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> Article:
    """A new draft article with its first version; the author owns it unless `owner` is given."""
    data = dict(data)
    tags = data.pop("tags", None) or []
    _check_unknown(data)
    _check_links(tenant, data)
    article = Article(
        tenant=tenant,
        number=0,  # allocated below, once the input has passed validation
        author=actor,
        owner=data.pop("owner", None) or actor,
        **data,
    )
    article.body_html = render_markdown(article.body)
    article.full_clean(exclude=["number"])
    article.number = next_number(tenant=tenant, key=Article.NUMBER_PREFIX)
    article.save(force_insert=True)
    _record_version(article, actor)
    _set_tags(article, tags)
    return article


@transaction.atomic
def article_update(
    *,
    tenant: Tenant,
    article_id: int,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Article:
    """Edit an article. A change of text is a new version, live at once if the article is
    published (publish-on-save); descriptive fields and tags change without one.

    Raises:
        ArticleNotEditableError: the article is retired.
    """
    article = _locked(tenant, article_id, expected_version)
    _check_unknown(data)
    check_editable(article.status)
    _check_links(tenant, data)
    changed = [
        name
        for name in (*TEXT_FIELDS, *META_FIELDS)
        if name in data and getattr(article, name) != data[name]
    ]
    for name in changed:
        setattr(article, name, data[name])
    text_changed = any(name in TEXT_FIELDS for name in changed)
    if text_changed:
        article.body_html = render_markdown(article.body)
        article.revision += 1
        changed += ["body_html", "revision"]
    article.full_clean(exclude=["number"])
    if "tags" in data:
        _set_tags(article, data["tags"])
    if changed or "tags" in data:
        _save(article, changed)
    if text_changed:
        _record_version(article, actor)
    return article


@transaction.atomic
def article_restore(
    *,
    tenant: Tenant,
    article_id: int,
    actor: Any,
    number: int,
    expected_version: int | None = None,
) -> Article:
    """Bring back the text of version `number` as a new version; every version stays.

    Raises:
        NotFoundError: the article has no such version.
        ArticleNotEditableError: the article is retired.
    """
    article = _locked(tenant, article_id, expected_version)
    check_editable(article.status)
    old = ArticleVersion.objects.for_tenant(tenant).filter(article=article, number=number).first()
    if old is None:
        raise NotFoundError(f"{article.reference} has no version {number}.")
    article.title, article.summary, article.body = old.title, old.summary, old.body
    article.body_html = render_markdown(article.body)
    article.revision += 1
    _save(article, [*TEXT_FIELDS, "body_html", "revision"])
    _record_version(article, actor, restored_from=number)
    return article


@transaction.atomic
def article_transition(
    *,
    tenant: Tenant,
    article_id: int,
    actor: Any,
    action: ArticleAction,
    expected_version: int | None = None,
) -> Article:
    """Carry out a lifecycle action as the table says, with the times it sets.

    Raises:
        InvalidArticleTransitionError: the table does not allow the action in the status.
    """
    article = _locked(tenant, article_id, expected_version)
    rule = check_action(article.status, action)
    article.status = rule.to_status
    fields = ["status"]
    if rule.to_status == ArticleStatus.PUBLISHED:
        article.published_at = timezone.now()
        fields.append("published_at")
    elif rule.to_status == ArticleStatus.RETIRED:
        article.retired_at = timezone.now()
        fields.append("retired_at")
    elif action == ArticleAction.REVISE:
        article.retired_at = None
        fields.append("retired_at")
    _save(article, fields)
    return article


# --- Restrictions (django-guardian) ------------------------------------------------------------


def _view_permission() -> Permission:
    return Permission.objects.get(
        content_type=ContentType.objects.get_for_model(Article), codename=VIEW_PERMISSION
    )


def _grant(restrictions: Iterable[ArticleRestriction], members: Iterable[TeamMember]) -> None:
    """One guardian grant per (restriction, member of its team)."""
    permission = _view_permission()
    by_team: dict[int, list[TeamMember]] = {}
    for member in members:
        by_team.setdefault(member.team_id, []).append(member)
    ArticleUserObjectPermission.objects.bulk_create(
        [
            ArticleUserObjectPermission(
                tenant_id=restriction.tenant_id,
                content_object_id=restriction.article_id,
                restriction=restriction,
                team_member=member,
                user_id=member.user_id,
                permission=permission,
            )
            for restriction in restrictions
            for member in by_team.get(restriction.team_id, [])
        ],
        ignore_conflicts=True,
    )


def _keeps_access(tenant: Tenant, actor: Any, team_ids: set[int]) -> bool:
    """Whether the actor still sees the article once it is restricted to these teams."""
    if member_role(tenant=tenant, user=actor) == MembershipRole.TENANT_ADMIN:
        return True
    return (
        TeamMember.objects.for_tenant(tenant)
        .filter(team_id__in=team_ids, user_id=actor.pk)
        .exists()
    )


@transaction.atomic
def article_restrict(
    *,
    tenant: Tenant,
    article_id: int,
    actor: Any,
    teams: Sequence[Team],
    expected_version: int | None = None,
) -> Article:
    """Restrict the article to exactly these teams (none: everyone who may read it again).

    Members of the teams get guardian's `view_article` on it; everyone else (but tenant
    administrators) stops seeing it anywhere.
    """
    article = _locked(tenant, article_id, expected_version)
    if any(team.tenant_id != tenant.pk for team in teams):
        raise ArticleInputError("Must belong to the same tenant.", fields={"teams": ["Unknown."]})
    wanted = {team.pk for team in teams}
    if wanted and not _keeps_access(tenant, actor, wanted):
        raise ArticleInputError(
            "Include a team you are in: you would no longer see the article.",
            fields={"teams": ["None of these teams has you as a member."]},
        )
    restrictions = ArticleRestriction.objects.for_tenant(tenant).filter(article=article)
    # Deleting a restriction deletes its grants (cascade).
    restrictions.exclude(team_id__in=wanted).delete()
    kept = set(restrictions.values_list("team_id", flat=True))
    added = ArticleRestriction.objects.bulk_create(
        [
            ArticleRestriction(tenant=tenant, article=article, team_id=team_id)
            for team_id in sorted(wanted - kept)
        ]
    )
    _grant(added, TeamMember.objects.for_tenant(tenant).filter(team_id__in=wanted - kept))
    article.is_restricted = bool(wanted)
    _save(article, ["is_restricted"])
    return article


@transaction.atomic
def article_grants_for_new_member(*, team_member: TeamMember) -> None:
    """Give a new team member the grants of the articles restricted to their team.

    Leaving a team needs no counterpart: the grants are deleted with the membership row.
    """
    restrictions = ArticleRestriction.objects.for_tenant(team_member.tenant_id).filter(
        team_id=team_member.team_id
    )
    _grant(restrictions, [team_member])


# --- Feedback and use --------------------------------------------------------------------------


@transaction.atomic
def article_feedback_give(
    *, tenant: Tenant, article_id: int, user: Any, is_helpful: bool, comment: str = ""
) -> ArticleFeedback:
    """Record the reader's vote (one per reader, changeable) and keep the article's counts.

    Raises:
        ArticleNotPublishedError: only published articles take feedback.
    """
    article = _locked(tenant, article_id, None)
    if not article.is_published:
        raise ArticleNotPublishedError("Only a published article takes feedback.")
    feedback = ArticleFeedback.objects.for_tenant(tenant).filter(article=article, user=user).first()
    helpful_delta = not_helpful_delta = 0
    if feedback is None:
        feedback = ArticleFeedback.objects.create(
            tenant=tenant, article=article, user=user, is_helpful=is_helpful, comment=comment
        )
        helpful_delta, not_helpful_delta = (1, 0) if is_helpful else (0, 1)
    else:
        if feedback.is_helpful != is_helpful:
            helpful_delta, not_helpful_delta = (1, -1) if is_helpful else (-1, 1)
        feedback.is_helpful, feedback.comment = is_helpful, comment
        feedback.save(update_fields=["is_helpful", "comment", "updated_at"])
    if helpful_delta or not_helpful_delta:
        Article.objects.for_tenant(tenant).filter(pk=article.pk).update(
            helpful_count=F("helpful_count") + helpful_delta,
            not_helpful_count=F("not_helpful_count") + not_helpful_delta,
        )
    return feedback


@transaction.atomic
def article_record_helped(*, tenant: Tenant, article_id: int) -> None:
    """Count one more incident the article helped resolve (for the incident and problem apps).

    Raises:
        NotFoundError: absent or another tenant's.
    """
    updated = (
        Article.objects.for_tenant(tenant)
        .filter(pk=article_id)
        .update(helped_count=F("helped_count") + 1)
    )
    if not updated:
        raise NotFoundError("No such article.")
