from django.urls import path

from itsm.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
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
