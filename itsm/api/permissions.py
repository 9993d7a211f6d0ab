"""Fail-closed permissions: membership of the URL's tenant, then the role per action."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsTenantMember(BasePermission):
    """The request's tenant was resolved and the user is an active member of it."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return getattr(request, "membership", None) is not None


class HasActionRole(BasePermission):
    """The member's role is one the viewset grants the current action.

    An action the viewset does not list is refused, so forgetting an entry fails closed; a
    test checks that every action of every viewset is listed.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        action: str | None = getattr(view, "action", None)
        if action == "metadata":
            return True
        membership = getattr(request, "membership", None)
        if action is None and not hasattr(view, (request.method or "").lower()):
            # No handler for the method at all: the view answers 405, whatever the role.
            return membership is not None
        roles: dict[str, Any] = getattr(view, "action_roles", {})
        allowed = roles.get(action or "")
        return membership is not None and allowed is not None and membership.role in allowed
