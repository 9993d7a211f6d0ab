"""The approver's decision on one change of their queue: approve or reject, with a comment.

Shape only, as the API's input serializers: whether a rejection has its comment, and whether the
user may decide at all, is the service's to say (`changes.services.change_reject`).
"""

from __future__ import annotations

from django import forms

from problems.forms.actions import text_field

APPROVE, REJECT = "approve", "reject"
COMMENT_MAX = 5000  # as ChangeApproval.comment


class DecisionForm(forms.Form):
    reference = forms.CharField(max_length=32, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[(APPROVE, "Approve"), (REJECT, "Reject")])
    comment = text_field(
        required=False,
        rows=2,
        max_length=COMMENT_MAX,
        help_text="Required to reject: the change goes back to its owner as a draft.",
    )
