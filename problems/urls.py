"""Problem and known-error pages: the queues, the record pages with their actions, the create
form and the bulk link page. Staff only: requesters see nothing of problem management."""

from django.urls import path

from problems.views import (
    articles,
    create,
    diagnosis,
    known_errors,
    links,
    queues,
    record,
    similar,
    suggestions,
)

app_name = "problems"

PROBLEMS = "t/<slug:tenant_slug>/problems/"
KNOWN_ERRORS = "t/<slug:tenant_slug>/known-errors/"
# The incident page's card (incidents cannot name problems' views; see problems/workspace.py).
DIAGNOSIS = "t/<slug:tenant_slug>/diagnosis/<str:reference>/"
SUGGESTIONS = f"{PROBLEMS}suggestions/"

urlpatterns = [
    path(PROBLEMS, queues.ProblemListPage.as_view(), name="list"),
    path(f"{PROBLEMS}new/", create.ProblemCreatePage.as_view(), name="create"),
    # Before the problems' `<reference>/` routes, which would take "suggestions" for one.
    path(SUGGESTIONS, suggestions.SuggestionListPage.as_view(), name="suggestions"),
    path(f"{SUGGESTIONS}run/", suggestions.TrendRunPage.as_view(), name="trend-run"),
    path(
        f"{SUGGESTIONS}<str:reference>/",
        suggestions.SuggestionRecordPage.as_view(),
        name="suggestion",
    ),
    path(
        f"{SUGGESTIONS}<str:reference>/<slug:action>/",
        suggestions.SuggestionActionPage.as_view(),
        name="suggestion-action",
    ),
    path(f"{PROBLEMS}<str:reference>/", record.ProblemRecordPage.as_view(), name="detail"),
    path(f"{PROBLEMS}<str:reference>/link/", links.ProblemLinkPage.as_view(), name="link"),
    path(
        f"{PROBLEMS}<str:reference>/articles/",
        articles.ProblemArticlesCard.as_view(),
        name="articles",
    ),
    path(
        f"{PROBLEMS}<str:reference>/<slug:action>/",
        record.ProblemActionPage.as_view(),
        name="action",
    ),
    path(KNOWN_ERRORS, queues.KnownErrorListPage.as_view(), name="known-errors"),
    path(
        f"{KNOWN_ERRORS}<str:reference>/",
        known_errors.KnownErrorRecordPage.as_view(),
        name="known-error",
    ),
    path(
        f"{KNOWN_ERRORS}<str:reference>/articles/",
        articles.KnownErrorArticlesCard.as_view(),
        name="known-error-articles",
    ),
    path(
        f"{KNOWN_ERRORS}<str:reference>/<slug:action>/",
        known_errors.KnownErrorActionPage.as_view(),
        name="known-error-action",
    ),
    path(DIAGNOSIS, diagnosis.IncidentKnowledgeCard.as_view(), name="incident-knowledge"),
    path(
        f"{DIAGNOSIS}apply/",
        diagnosis.IncidentKnowledgeApply.as_view(),
        name="incident-knowledge-apply",
    ),
    path(
        "t/<slug:tenant_slug>/similar/<str:reference>/",
        similar.IncidentSimilarCard.as_view(),
        name="incident-similar",
    ),
    path(
        "t/<slug:tenant_slug>/knowledge-links/<str:reference>/",
        articles.ArticleRecordsCard.as_view(),
        name="article-records",
    ),
]
