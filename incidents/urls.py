"""Incident pages: the queues, the record page with its actions, and the create form.

Requesters use the same URLs (their queue lists what they reported, the record page shows the
public timeline, the create form is the simpler one), so a link works for everyone who may see
the incident.
"""

from django.urls import path

from incidents.views import create, queues, record, similar

app_name = "incidents"

TENANT = "t/<slug:tenant_slug>/incidents/"

urlpatterns = [
    path(TENANT, queues.IncidentListPage.as_view(), name="list"),
    path(f"{TENANT}new/", create.IncidentCreatePage.as_view(), name="create"),
    # Before `<reference>/<action>/`, which would read it as incident "new", action "similar".
    path(f"{TENANT}new/similar/", similar.SimilarOpenIncidents.as_view(), name="similar-open"),
    path(f"{TENANT}bulk-assign/", queues.IncidentBulkAssignPage.as_view(), name="bulk-assign"),
    path(f"{TENANT}<str:reference>/", record.IncidentRecordPage.as_view(), name="detail"),
    path(
        f"{TENANT}<str:reference>/<slug:action>/",
        record.IncidentActionPage.as_view(),
        name="action",
    ),
]
