"""The forms of the article page: one per action, each feeding one service.

Each action is described once in `ACTIONS`: its form, its service, and the roles that may run
it, which are the API's `action_roles` (tests/knowledgebase/test_pages.py holds the two
together). The forms check shape only; the services decide everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from itsm.tenancy.choices import ALL_ROLES, STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Tenant
from knowledgebase import services
from knowledgebase.choices import ArticleAction

# Who decides what readers see: publish, send back, take down, retire, restrict. The API's
# EDITOR_ROLES (knowledgebase/api/views.py), which pages may not import.
EDITOR_ROLES: Final = frozenset(
    {MembershipRole.PROBLEM_MANAGER, MembershipRole.CHANGE_MANAGER, MembershipRole.TENANT_ADMIN}
)
STAFF: Final = frozenset(STAFF_ROLES)
COMMENT_MAX = 2000  # as the API and the model


class VersionedForm(forms.Form):
    """A change carries the version of the article it was made on (the form's If-Match)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    def service_arguments(self) -> dict[str, Any]:
        arguments = dict(self.cleaned_data)
        arguments["expected_version"] = arguments.pop("version")
        return arguments


class TransitionForm(VersionedForm):
    """A lifecycle action takes nothing but the version."""


class RestoreForm(VersionedForm):
    number = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)


class FeedbackForm(forms.Form):
    """A reader's vote; a second vote replaces the first, so it carries no version."""

    is_helpful = forms.TypedChoiceField(
        label=_("Did this article help?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def service_arguments(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


def _transition(
    *, tenant: Tenant, article_id: int, actor: Any, action: ArticleAction, **arguments: Any
) -> Any:
    return services.article_transition(
        tenant=tenant, article_id=article_id, actor=actor, action=action, **arguments
    )


def _feedback(*, tenant: Tenant, article_id: int, actor: Any, **arguments: Any) -> Any:
    # The service names the voter `user`: they vote for themselves, not on behalf of anyone.
    return services.article_feedback_give(
        tenant=tenant, article_id=article_id, user=actor, **arguments
    )


@dataclass(frozen=True)
class ActionSpec:
    slug: str  # the URL's <action>, as the API's route
    label: str
    roles: frozenset[str]
    form_class: type[forms.Form]
    service: Callable[..., Any]
    done: str  # what the page says once it is done
    lifecycle: ArticleAction | None = None
    danger: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    # The API action whose roles these are (tests compare them).
    api_action: str = ""


def _lifecycle(
    verb: ArticleAction, roles: frozenset[str], done: str, *, danger: bool = False
) -> ActionSpec:
    return ActionSpec(
        slug=str(verb).replace("_", "-"),
        label=str(verb.label),
        roles=roles,
        form_class=TransitionForm,
        service=_transition,
        done=done,
        lifecycle=verb,
        danger=danger,
        options={"action": verb},
        api_action=str(verb),
    )


ACTIONS: Final[dict[str, ActionSpec]] = {
    spec.slug: spec
    for spec in (
        _lifecycle(ArticleAction.SUBMIT, STAFF, "Submitted for review."),
        _lifecycle(ArticleAction.REQUEST_CHANGES, EDITOR_ROLES, "Sent back to its author."),
        _lifecycle(ArticleAction.PUBLISH, EDITOR_ROLES, "Published."),
        _lifecycle(ArticleAction.UNPUBLISH, EDITOR_ROLES, "Taken down: it is a draft again."),
        _lifecycle(ArticleAction.RETIRE, EDITOR_ROLES, "Retired.", danger=True),
        _lifecycle(ArticleAction.REVISE, EDITOR_ROLES, "Revised: it is a draft again."),
        ActionSpec(
            slug="restore",
            label="Restore this version",
            roles=STAFF,
            form_class=RestoreForm,
            service=services.article_restore,
            done="Restored: the old text is the current version now.",
            api_action="restore",
        ),
        ActionSpec(
            slug="feedback",
            label="Send feedback",
            roles=frozenset(ALL_ROLES),
            form_class=FeedbackForm,
            service=_feedback,
            done="Thank you for your feedback.",
            api_action="feedback",
        ),
    )
}
