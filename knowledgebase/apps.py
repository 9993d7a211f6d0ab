from django.apps import AppConfig
from django.db.models.signals import post_save


class KnowledgebaseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "knowledgebase"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from itsm.search.registry import Searchable, register
        from itsm.tenancy.models import TeamMember
        from knowledgebase import workspace
        from knowledgebase.models import Article
        from knowledgebase.receivers import on_team_member_saved

        # A new team member is granted the articles restricted to the team (receivers.py).
        post_save.connect(
            on_team_member_saved, sender=TeamMember, dispatch_uid="knowledgebase_team_member"
        )
        # Header links and the search provider of the workspace shell.
        workspace.register()
        # Articles in the search structure. It returns ids only: callers load them through
        # selectors.article_list, so audience and team restrictions apply to every match.
        register(
            Searchable(
                Article,
                kind="article",
                title="title",
                body=("summary", "body"),
                service="service_id",
                category="category_id",
                status="status",
                audience="audience",
            )
        )
