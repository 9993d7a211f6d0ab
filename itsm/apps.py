from django.contrib.admin.apps import AdminConfig


class ITSMAdminConfig(AdminConfig):
    """Django admin for platform administrators, on a site that sees across tenants."""

    default_site = "itsm.admin_site.PlatformAdminSite"
