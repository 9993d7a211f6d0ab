from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from itsm.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico on pages that name none (admin, the API's own pages).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"), permanent=True)),
    path("t/<slug:tenant_slug>/", views.TenantHomeView.as_view(), name="tenant-home"),
    path("t/<slug:tenant_slug>/search/", views.SearchPage.as_view(), name="search"),
    path(
        "t/<slug:tenant_slug>/saved-views/",
        views.SavedViewSavePage.as_view(),
        name="saved-view-save",
    ),
    path(
        "t/<slug:tenant_slug>/saved-views/<int:pk>/delete/",
        views.SavedViewDeletePage.as_view(),
        name="saved-view-delete",
    ),
    path(
        "t/<slug:tenant_slug>/notifications/",
        views.NotificationsPage.as_view(),
        name="notifications",
    ),
]
