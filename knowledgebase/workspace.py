"""The knowledge base's part of the workspace shell: its header links and its search provider.

Cards that higher apps add to the article page (problems: "Linked records") are registered by
them with the shell (`itsm.web.workspace.register_cards`, record kind "article").
"""

from __future__ import annotations

from django.urls import reverse

from itsm.search.selectors import filter_matching, ranked
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Membership, Tenant, parse_reference
from itsm.web.workspace import NavItem, SearchHit, SearchResult, register_nav, register_search
from knowledgebase import selectors
from knowledgebase.models import Article

REQUESTER_ROLES = frozenset({MembershipRole.REQUESTER})
SECTION = ("knowledgebase:",)


def article_url(tenant: Tenant, article: Article) -> str:
    return reverse("knowledgebase:detail", args=[tenant.slug, article.reference])


def article_search(tenant: Tenant, membership: Membership, query: str, limit: int) -> SearchResult:
    """A KB number the member may see jumps to the article; words list the articles the member
    may see that contain them all, best match first.

    The search structure answers ids only; they are loaded through `selectors.article_list`,
    so drafts (for requesters) and other teams' restricted articles never come back.
    """
    visible = selectors.article_list(tenant=tenant, membership=membership)
    # Only "KB-…": a bare number is the incidents' (their provider answers first).
    is_reference = query.strip().upper().startswith(Article.NUMBER_PREFIX)
    number = parse_reference(Article.NUMBER_PREFIX, query.strip()) if is_reference else None
    if number is not None:
        article = visible.filter(number=number).first()
        if article is not None:
            return SearchResult(jump_to=article_url(tenant, article))
    if not query.strip():
        return SearchResult()
    # The best matches of the tenant first; a share of them may be hidden from this member,
    # so ask for more than are shown and top up from the plain match when they run short.
    hits = ranked(
        tenant_id=tenant.pk, kinds=["article"], text=query, limit=limit * 4, match_all=True
    )
    rank = {hit.object_id: position for position, hit in enumerate(hits)}
    found = sorted(visible.filter(pk__in=rank), key=lambda article: rank[article.pk])[:limit]
    if len(found) < limit and len(hits) == limit * 4:
        more = filter_matching(visible, tenant_id=tenant.pk, kind="article", text=query)
        found += list(
            more.exclude(pk__in=[article.pk for article in found]).order_by("-updated_at", "-id")[
                : limit - len(found)
            ]
        )
    return SearchResult(
        hits=[
            SearchHit(
                kind="Article",
                title=f"{article.reference} {article.title}",
                url=article_url(tenant, article),
                detail=article.summary[:120] or article.get_status_display(),
            )
            for article in found
        ]
    )


def register() -> None:
    register_nav(
        NavItem(
            "Knowledge", "knowledgebase:list", frozenset(STAFF_ROLES), order=50, section=SECTION
        ),
        NavItem("Help articles", "knowledgebase:list", REQUESTER_ROLES, order=30, section=SECTION),
    )
    register_search("knowledgebase", article_search)
