"""Knowledge-base articles, their kept versions, readers' feedback, tags and team restrictions.

Links to problems, known errors and incidents live in those (higher) apps and come with them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from itsm.audit.tracking import audited
from itsm.tenancy.models import NumberedModel, TenantOwnedModel
from knowledgebase.choices import ArticleAudience, ArticleStatus


@audited()
class Tag(TenantOwnedModel):
    """A label of a tenant's articles; unique by slug within the tenant."""

    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64, db_index=False)  # unique with tenant, indexed there

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="knowledgebase_tag_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name


# version is the ETag counter and body_html a rendering of body (audited itself); the counts move
# with every reader's vote and every incident helped.
@audited(exclude=["version", "body_html", "helpful_count", "not_helpful_count", "helped_count"])
class Article(NumberedModel):
    """A knowledge article (KB-000042): Markdown text, its rendered HTML, a lifecycle, versions.

    Status, text, restrictions and counters are written only by `knowledgebase.services`;
    `body_html` is always the sanitised rendering of `body`; `revision` is the number of the
    `ArticleVersion` that holds the current text; `version` grows with every write (the ETag).
    """

    NUMBER_PREFIX = "KB"

    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    body = models.TextField(max_length=100000, help_text=_("Markdown."))
    body_html = models.TextField(editable=False, default="")
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    audience = models.CharField(
        max_length=16, choices=ArticleAudience.choices, default=ArticleAudience.AGENTS
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Keeps the article accurate; the author unless someone else takes it."),
    )
    tags = models.ManyToManyField(Tag, through="ArticleTag", related_name="articles", blank=True)
    restricted_teams = models.ManyToManyField(
        "tenancy.Team", through="ArticleRestriction", related_name="+", blank=True
    )
    # Denormalised from the restrictions, so that lists filter the common, unrestricted case
    # without a join.
    is_restricted = models.BooleanField(default=False, editable=False)

    revision = models.PositiveIntegerField(default=1, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    helpful_count = models.PositiveIntegerField(default=0, editable=False)
    not_helpful_count = models.PositiveIntegerField(default=0, editable=False)
    helped_count = models.PositiveIntegerField(
        default=0, editable=False, help_text=_("Incidents it helped resolve.")
    )

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            # The default list: a tenant's articles, newest first (keyset pagination).
            models.Index(fields=["tenant", "-created_at", "-id"], name="kb_article_tenant_created"),
            models.Index(fields=["tenant", "status", "audience"], name="kb_article_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def etag(self) -> str:
        return f'"{self.reference}-{self.version}"'

    @property
    def is_published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED


class ArticleVersion(TenantOwnedModel):
    """One saved text of an article, never changed once written: nothing edited is lost.

    Numbered 1, 2, 3 … per article; the article's `revision` names the current one.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    body = models.TextField(max_length=100000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16,
        choices=ArticleStatus.choices,
        help_text=_("The article's status when this text was saved."),
    )
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["article_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "article", "number"], name="knowledgebase_version_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.number} of article {self.article_id}"


@audited()
class ArticleTag(TenantOwnedModel):
    """An article's tag (an explicit link row, so that it carries the tenant and its guard)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "article", "tag"], name="knowledgebase_articletag_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id}: {self.tag_id}"


@audited()
class ArticleRestriction(TenantOwnedModel):
    """A team an article is restricted to: only its members (and tenant administrators) see it.

    The source of truth for restrictions; the read check itself goes through the guardian
    grants derived from it (`ArticleUserObjectPermission`).
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="restrictions")
    # PROTECT: deleting a team that restricts an article is refused ("in use"), rather than
    # leaving the article restricted to no one.
    team = models.ForeignKey("tenancy.Team", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "article", "team"], name="knowledgebase_restriction_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} → team {self.team_id}"


# Both bases declare `objects`; the one below serves both (type: ignore for that clash only).
class ArticleUserObjectPermission(UserObjectPermissionBase, TenantOwnedModel):  # type: ignore[misc]
    """django-guardian's per-user object permission on an article, as a tenant table.

    guardian's own generic table (`guardian_userobjectpermission`) has no tenant column, so it
    would sit outside row-level security and the link guards. This direct-foreign-key table
    (guardian finds it through `content_object`) carries the tenant: a grant is readable only
    in its tenant's scope and cannot point at another tenant's article or team member.

    Each grant is derived from one restriction and one team member, and is deleted with either
    (leaving a team or lifting a restriction revokes at once).
    """

    # A named reverse relation: guardian finds direct tables through the article's relations
    # (a hidden "+" one would send it to its generic table).
    content_object = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="grants")
    restriction = models.ForeignKey(ArticleRestriction, on_delete=models.CASCADE, related_name="+")
    team_member = models.ForeignKey(
        "tenancy.TeamMember", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        # guardian's unique (user, permission, content_object) would be global; one grant per
        # restriction and team member instead, within the tenant.
        unique_together = ()
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "restriction", "team_member", "permission"],
                name="knowledgebase_grant_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "user", "permission", "content_object"],
                name="kb_grant_tenant_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} may {self.permission_id} article {self.content_object_id}"


@audited()
class ArticleFeedback(TenantOwnedModel):
    """A reader's vote on an article: helpful or not, with an optional comment; one per reader."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "article", "user"], name="knowledgebase_feedback_unique_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.article_id}: {'+' if self.is_helpful else '-'}"
