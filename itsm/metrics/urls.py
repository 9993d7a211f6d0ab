"""The metrics dashboard pages under /t/<slug>/metrics/: the tenant's view, a team lead's view,
and the CSV of the records behind each figure. Staff only."""

from django.urls import path

from itsm.metrics import views

app_name = "metrics"

METRICS = "t/<slug:tenant_slug>/metrics/"

urlpatterns = [
    path(METRICS, views.DashboardPage.as_view(), name="dashboard"),
    path(f"{METRICS}teams/", views.TeamDashboardPage.as_view(), name="teams"),
    path(f"{METRICS}<slug:key>/export/", views.ExportPage.as_view(), name="export"),
]
