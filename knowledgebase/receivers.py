"""Keeps the guardian grants of restricted articles in step with team membership.

The grants are derived data (restriction × team member), like a cache: a new team member
gets the grants of their team's restricted articles here. Leaving a team needs no receiver: the
grants are deleted with the membership row (cascade).
"""

from typing import Any

from itsm.tenancy.models import TeamMember
from knowledgebase import services


def on_team_member_saved(
    sender: type[TeamMember], instance: TeamMember, created: bool, **kwargs: Any
) -> None:
    if created and not kwargs.get("raw", False):
        services.article_grants_for_new_member(team_member=instance)
