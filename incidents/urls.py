from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("t/<slug:tenant_slug>/incidents/", views.IncidentListPage.as_view(), name="list"),
]
