"""Change pages: the change list and the approver's queue, the calendar, the create form, the
record page with its actions, and the cards changes add to problem and incident pages. Staff
only: requesters see nothing of change management."""

from django.urls import path

from changes.views import calendar, cards, catalogue, create, queues, record, settings

app_name = "changes"

CHANGES = "t/<slug:tenant_slug>/changes/"

urlpatterns = [
    path(CHANGES, queues.ChangeListPage.as_view(), name="list"),
    path(f"{CHANGES}approvals/", queues.ApprovalQueuePage.as_view(), name="approvals"),
    path(f"{CHANGES}calendar/", calendar.ChangeCalendarPage.as_view(), name="calendar"),
    path(f"{CHANGES}new/", create.ChangeCreatePage.as_view(), name="create"),
    # The change manager's configuration: the standard change catalogue, the boards, the
    # approval rules and the blackout windows.
    path(f"{CHANGES}catalogue/", catalogue.TemplateListPage.as_view(), name="catalogue"),
    path(
        f"{CHANGES}catalogue/<int:pk>/",
        catalogue.TemplateEditPage.as_view(),
        name="catalogue-template",
    ),
    path(f"{CHANGES}settings/", settings.ChangeSettingsPage.as_view(), name="settings"),
    # Before the changes' `<reference>/` routes, which would take these for references.
    path(f"{CHANGES}risk/", record.RiskPreview.as_view(), name="risk-preview"),
    path(f"{CHANGES}<str:reference>/", record.ChangeRecordPage.as_view(), name="detail"),
    path(
        f"{CHANGES}<str:reference>/<slug:action>/",
        record.ChangeActionPage.as_view(),
        name="action",
    ),
    # Cards on the pages of lower apps (they cannot name these views; see changes/workspace.py).
    path(
        "t/<slug:tenant_slug>/change-links/problem/<str:reference>/",
        cards.ProblemChangesCard.as_view(),
        name="problem-changes",
    ),
    path(
        "t/<slug:tenant_slug>/change-links/known-error/<str:reference>/",
        cards.KnownErrorChangesCard.as_view(),
        name="known-error-changes",
    ),
    path(
        "t/<slug:tenant_slug>/change-links/incident/<str:reference>/",
        cards.IncidentChangesCard.as_view(),
        name="incident-changes",
    ),
]
