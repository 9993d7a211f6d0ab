"""The URLs the benchmark suite runs against: the product's own, plus the floor views
(benchmarks/floor.py). In process the suite applies it with `override_settings(ROOT_URLCONF=...)`;
gunicorn gets it through benchmarks/settings.py. The product's itsm/urls.py never serves the
floor."""

from django.urls import include, path

from benchmarks.floor import FloorIncidentDetail, FloorIncidentList
from itsm.urls import handler403, handler404, handler500

FLOOR_LIST = "__floor__/incidents/{tenant_id}/"
FLOOR_DETAIL = "__floor__/incidents/{tenant_id}/{number}/"

urlpatterns = [
    path("__floor__/incidents/<int:tenant_id>/", FloorIncidentList.as_view()),
    path("__floor__/incidents/<int:tenant_id>/<int:number>/", FloorIncidentDetail.as_view()),
    path("", include("itsm.urls")),
]

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
