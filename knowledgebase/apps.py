from django.apps import AppConfig
from django.db.models.signals import post_save


class KnowledgebaseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "knowledgebase"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from itsm.tenancy.models import TeamMember
        from knowledgebase.receivers import on_team_member_saved

        # A new team member is granted the articles restricted to the team (receivers.py).
        post_save.connect(
            on_team_member_saved, sender=TeamMember, dispatch_uid="knowledgebase_team_member"
        )
