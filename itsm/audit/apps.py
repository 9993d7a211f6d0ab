from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from itsm.audit import receivers

        # Sent once per app; this app's turn comes after tenancy's (INSTALLED_APPS order), so
        # the revoke below follows tenancy's grant.
        pre_migrate.connect(receivers.before_migrate, sender=self, dispatch_uid="audit_pre")
        post_migrate.connect(receivers.after_migrate, sender=self, dispatch_uid="audit_post")
        receivers.connect_task_context()
