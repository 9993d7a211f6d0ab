"""The article list and search: tabs by status for staff, "Help articles" for requesters.

Both are the same URL and the same `QueuePage`; what a member may see is decided once, by
`selectors.article_list` (requesters: published articles for requesters; restricted articles
only for their teams), and the tabs only narrow that.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Membership
from itsm.web.queues import Queue, QueuePage
from knowledgebase import selectors
from knowledgebase.choices import ArticleStatus
from knowledgebase.filters import ArticleFilterSet
from knowledgebase.models import Article

REQUESTERS = frozenset({MembershipRole.REQUESTER})
STAFF = frozenset(STAFF_ROLES)
NEWEST = "-updated_at"


def _published(articles: QuerySet[Article], membership: Membership) -> QuerySet[Article]:
    return articles.filter(status=ArticleStatus.PUBLISHED)


def _in_progress(articles: QuerySet[Article], membership: Membership) -> QuerySet[Article]:
    return articles.filter(status__in=[ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW])


def _mine(articles: QuerySet[Article], membership: Membership) -> QuerySet[Article]:
    return articles.filter(Q(owner_id=membership.user_id) | Q(author_id=membership.user_id))


def _retired(articles: QuerySet[Article], membership: Membership) -> QuerySet[Article]:
    return articles.filter(status=ArticleStatus.RETIRED)


def _everything(articles: QuerySet[Article], membership: Membership) -> QuerySet[Article]:
    return articles


QUEUES = (
    Queue("published", "Published", _published, STAFF, NEWEST),
    Queue("drafts", "Drafts & in review", _in_progress, STAFF, NEWEST),
    Queue("mine", "Mine", _mine, STAFF, NEWEST),
    Queue("retired", "Retired", _retired, STAFF, NEWEST),
    Queue("all", "All", _everything, STAFF, NEWEST),
    # The selector already limits a requester to published articles meant for them.
    Queue("help", "Help articles", _everything, REQUESTERS, "-helpful_count"),
)

# The filter bar: (query parameter, label, the choice that filters nothing, staff only).
FILTER_BAR = (
    ("status", "Status", "Any", True),
    ("audience", "Audience", "Any", True),
    ("tag", "Tag", "Any", False),
    ("service", "Service", "Any", False),
    ("category", "Category", "Any", False),
)


class ArticleListPage(QueuePage):
    """The tenant's articles the member may see, by tab, filters and words."""

    template_name = "knowledgebase/list.html"
    rows_template = "knowledgebase/list.html#rows"
    page_name = "knowledgebase:list"
    queues = QUEUES
    filterset_class = ArticleFilterSet
    ordering_fields = {
        "updated_at": "Updated",
        "created_at": "Created",
        "title": "Title",
        "number": "Number",
        "helpful_count": "Helpful",
        "helped_count": "Helped",
    }
    search_kind = "article"

    @property
    def is_requester(self) -> bool:
        return self.membership.role == MembershipRole.REQUESTER

    def get_base_queryset(self) -> QuerySet[Article]:
        # Rows show no text: leave the two largest columns in the table.
        articles = selectors.article_list(tenant=self.tenant, membership=self.membership)
        return articles.defer("body", "body_html")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["is_requester"] = self.is_requester
        if self.rows_only:  # the refreshed rows show no filter bar
            return context
        choices = self._filter_choices(context["filter_form"])
        context["filter_fields"] = [
            (name, label, choices[name], self.request.GET.get(name, ""), empty)
            for name, label, empty, staff_only in FILTER_BAR
            if not (staff_only and self.is_requester)
        ]
        return context

    def _filter_choices(self, filter_form: Any) -> dict[str, list[tuple[Any, Any]]]:
        """(value, label) pairs of the filter bar, one query per list. Tags are those of the
        articles the member may see: a tag used only on hidden articles is not named."""
        fields = filter_form.fields
        tags = (
            fields["tag"]
            .queryset.filter(pk__in=self.get_base_queryset().values("tags"))
            .only("slug", "name")
        )
        return {
            "status": list(fields["status"].choices),
            "audience": [(value, label) for value, label in fields["audience"].choices if value],
            "tag": [(t.slug, t.name) for t in tags],
            "service": [(s.slug, s.name) for s in fields["service"].queryset.only("slug", "name")],
            "category": [
                (c.slug, c.name) for c in fields["category"].queryset.only("slug", "name")
            ],
        }
