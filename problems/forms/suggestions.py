"""The forms of the problem suggestion page: accept, merge, dismiss, each feeding one service.

As the problem record's actions (`problems.forms.actions`), each action is described once, with
the roles the API's `SuggestionViewSet.action_roles` grants it (tests/problems/test_record_page.py
holds the two together).
"""

from __future__ import annotations

from typing import Any

from django import forms

from problems import services
from problems.forms.actions import PROBLEM_MANAGERS, ActionSpec, VersionedForm, text_field
from problems.models import ProblemSuggestion

TITLE_MAX = ProblemSuggestion._meta.get_field("title").max_length
REASON_MAX = 2000  # as the API's input and the model's field


class SuggestionAcceptForm(VersionedForm):
    title = forms.CharField(
        max_length=TITLE_MAX,
        required=False,
        label="Problem title",
        help_text="Empty: the suggestion's title.",
    )

    def service_arguments(self) -> dict[str, Any]:
        title = self.cleaned_data["title"]
        return {
            "data": {"title": title} if title else {},
            "expected_version": self.cleaned_data["version"],
        }


class SuggestionMergeForm(VersionedForm):
    problem = forms.CharField(
        max_length=32,
        label="Problem",
        help_text="The open problem the incidents belong to, e.g. PRB-000042.",
    )


class SuggestionDismissForm(VersionedForm):
    reason = text_field(
        required=True,
        rows=2,
        max_length=REASON_MAX,
        help_text="The same incidents are not suggested together again.",
    )


SUGGESTION_ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        ActionSpec(
            "accept",
            "Accept as a new problem",
            SuggestionAcceptForm,
            services.suggestion_accept,
            PROBLEM_MANAGERS,
            api_action="accept",
            done="Problem recorded with the suggestion's incidents linked.",
        ),
        ActionSpec(
            "merge",
            "Merge into a problem",
            SuggestionMergeForm,
            services.suggestion_merge,
            PROBLEM_MANAGERS,
            api_action="merge",
            done="Incidents linked to the problem.",
        ),
        ActionSpec(
            "dismiss",
            "Dismiss",
            SuggestionDismissForm,
            services.suggestion_dismiss,
            PROBLEM_MANAGERS,
            api_action="dismiss",
            danger=True,
            done="Suggestion dismissed.",
        ),
    ]
}
