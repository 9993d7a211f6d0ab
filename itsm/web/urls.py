from django.urls import path

from itsm.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant_slug>/", views.TenantHomeView.as_view(), name="tenant-home"),
]
