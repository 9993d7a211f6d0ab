"""The changes API: changes, one POST endpoint per lifecycle verb, approvals, links to the
problems they fix and the incidents they caused, timelines and conflicts; standard change
templates, the advisory boards' members and the approval rules.

Roles: change managers and tenant administrators manage changes and their configuration. Any
staff member may raise a draft change (a request for change comes from whoever works the
tickets) and record incidents a change caused; problem managers also link the problems a change
fixes. Approving and rejecting is open to staff as a role, but only the holders of the
change's approver grant (its board's members, while it awaits approval) may decide: to anyone
else the change is absent (404). Requesters see nothing of change management (404 on a record,
403 on a list). "Awaiting my approval" is `GET changes/?awaiting_my_approval=true`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from changes import selectors, services
from changes.api import serializers as s
from changes.choices import CHANGE_MANAGERS, PROBLEM_LINKERS
from changes.filters import ChangeFilterSet
from changes.models import ApprovalRule, CabMember, Change, ChangeTemplate
from changes.schedule import Conflict
from incidents.models import Incident
from incidents.selectors import incident_list
from itsm.api.views import (
    NumberedRecordScope,
    NumberedRecordViewSet,
    TenantCreateMixin,
    TenantDestroyMixin,
    TenantModelViewSet,
    TenantReadOnlyViewSet,
    TenantUpdateMixin,
)
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Tenant
from problems.models import KnownError, Problem
from problems.selectors import known_error_list, problem_list


class ChangeViewSet(TenantCreateMixin, TenantUpdateMixin, NumberedRecordViewSet):
    """Changes of the tenant, addressed by reference (CHG-000042).

    PATCH and every lifecycle action honour `If-Match` with the ETag of a previous read (412 if
    stale); an action the lifecycle does not allow now is a 409 with `allowed_actions`.
    `schedule/` and `approve/` answer with the change and its `conflicts` (warnings); a window
    in a blackout refuses a change that is not an emergency (409 blackout_window).
    """

    model = Change
    service_record_kwarg = "change_id"
    queryset = Change.objects.none()
    serializer_class = s.ChangeReadSerializer
    filterset_class = ChangeFilterSet
    search_fields = ["title"]
    ordering_fields = ["created_at", "updated_at", "number", "status", "planned_start", "risk"]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {
        "create": s.ChangeCreateSerializer,
        "partial_update": s.ChangeUpdateSerializer,
        "submit": s.EmptyInputSerializer,
        "request_approval": s.EmptyInputSerializer,
        "schedule": s.EmptyInputSerializer,
        "start": s.EmptyInputSerializer,
        "complete": s.ChangeNoteInputSerializer,
        "close": s.CloseInputSerializer,
        "cancel": s.CancelInputSerializer,
        "assess_risk": s.RiskInputSerializer,
        "approve": s.ApproveInputSerializer,
        "reject": s.RejectInputSerializer,
        "link_problems": s.LinkProblemsInputSerializer,
        "unlink_problems": s.LinkProblemsInputSerializer,
        "record_incidents": s.IncidentsInputSerializer,
        "unrecord_incidents": s.IncidentsInputSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "timeline": STAFF_ROLES,
        "approvals": STAFF_ROLES,
        "conflicts": STAFF_ROLES,
        "create": STAFF_ROLES,
        "partial_update": CHANGE_MANAGERS,
        "submit": CHANGE_MANAGERS,
        "request_approval": CHANGE_MANAGERS,
        "schedule": CHANGE_MANAGERS,
        "start": CHANGE_MANAGERS,
        "complete": CHANGE_MANAGERS,
        "close": CHANGE_MANAGERS,
        "cancel": CHANGE_MANAGERS,
        "assess_risk": CHANGE_MANAGERS,
        "approve": STAFF_ROLES,
        "reject": STAFF_ROLES,
        "link_problems": PROBLEM_LINKERS,
        "unlink_problems": PROBLEM_LINKERS,
        "record_incidents": STAFF_ROLES,
        "unrecord_incidents": CHANGE_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Change]:
        if self.action in {"approve", "reject"}:
            # Only the holders of the approver's grant find the change to decide on.
            return selectors.changes_to_decide(tenant=tenant, membership=self.request.membership)
        return selectors.change_list(tenant=tenant, membership=self.request.membership)

    # --- Writing ---

    def perform_create_service(self, data: dict[str, Any]) -> Change:
        change = services.change_create(tenant=self.tenant, actor=self.request.user, data=data)
        return self.reloaded(change.pk)

    def perform_update_service(self, instance: Change, data: dict[str, Any]) -> Change:
        services.change_update(
            tenant=self.tenant,
            change_id=instance.pk,
            actor=self.request.user,
            data=data,
            expected_version=self.expected_version(instance),
        )
        return self.reloaded(instance.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, **kwargs: Any) -> Response:
        """Draft → assessment."""
        return self.act(services.change_submit)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="request-approval")
    def request_approval(self, request: Request, **kwargs: Any) -> Response:
        """Assessment → awaiting approval (normal and emergency changes): the board named by
        the tenant's rule (or the default) may now decide."""
        return self.act(services.change_request_approval)

    @extend_schema(request=None, responses=s.ScheduledChangeSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, **kwargs: Any) -> Response:
        """A standard change, assessed → scheduled; answers with the conflicts found."""
        change = self.get_object()
        scheduled = services.change_schedule(
            tenant=self.tenant,
            change_id=change.pk,
            actor=request.user,
            expected_version=self.expected_version(change),
        )
        return self._with_conflicts(change.pk, scheduled.conflicts)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, **kwargs: Any) -> Response:
        """Scheduled → implementing."""
        return self.act(services.change_start)

    @action(detail=True, methods=["post"])
    def complete(self, request: Request, **kwargs: Any) -> Response:
        """Implementing → review."""
        return self.act(services.change_complete)

    @action(detail=True, methods=["post"])
    def close(self, request: Request, **kwargs: Any) -> Response:
        """Review → closed with an outcome; a successful change resolves the problems it fixes."""
        return self.act(services.change_close)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, **kwargs: Any) -> Response:
        """Withdraw a change that has not started, with a reason."""
        return self.act(services.change_cancel)

    @action(detail=True, methods=["post"], url_path="assess-risk")
    def assess_risk(self, request: Request, **kwargs: Any) -> Response:
        """The three answers of the risk assessment; the change's risk follows from them."""
        return self.act(services.change_assess_risk)

    @extend_schema(responses=s.ScheduledChangeSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, **kwargs: Any) -> Response:
        """Approve as a member of the deciding board; the last approval needed schedules the
        change (with its conflicts in the answer)."""
        return self._decide(services.change_approve)

    @extend_schema(responses=s.ScheduledChangeSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, **kwargs: Any) -> Response:
        """Reject with a comment: the change goes back to draft."""
        return self._decide(services.change_reject)

    @extend_schema(responses=s.ChangeLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="link-problems")
    def link_problems(self, request: Request, **kwargs: Any) -> Response:
        """Link the problems and known errors the change fixes, by reference, all or none."""
        return self._link(services.change_link_problems)

    @extend_schema(responses=s.ChangeLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="unlink-problems")
    def unlink_problems(self, request: Request, **kwargs: Any) -> Response:
        """Unlink problems and known errors by reference."""
        return self._link(services.change_unlink_problems)

    @extend_schema(responses=s.ChangeLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="record-incidents")
    def record_incidents(self, request: Request, **kwargs: Any) -> Response:
        """Record incidents the change caused, by reference, all or none."""
        return self._link(services.change_record_incidents)

    @extend_schema(responses=s.ChangeLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="unrecord-incidents")
    def unrecord_incidents(self, request: Request, **kwargs: Any) -> Response:
        """Unrecord incidents recorded in error."""
        return self._link(services.change_unrecord_incidents)

    # --- Reading ---

    @extend_schema(responses=s.ChangeEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, **kwargs: Any) -> Response:
        """Every event of the change, in order, as one plain list."""
        events = selectors.change_timeline(change=self.get_object())
        return Response(s.ChangeEventSerializer(events, many=True).data)

    @extend_schema(responses=s.ChangeApprovalSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def approvals(self, request: Request, **kwargs: Any) -> Response:
        """Every approver's decision, by round, as one plain list."""
        decisions = selectors.change_approvals(change=self.get_object())
        return Response(s.ChangeApprovalSerializer(decisions, many=True).data)

    @extend_schema(responses=s.ConflictSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def conflicts(self, request: Request, **kwargs: Any) -> Response:
        """What stands in the way of the planned window now: overlapping changes on the same
        services, blackout windows, open major incidents on the services."""
        found = selectors.change_conflicts(change=self.get_object())
        return Response(s.ConflictSerializer([asdict(c) for c in found], many=True).data)

    # --- Helpers ---

    def _decide(self, service: Callable[..., services.Decided]) -> Response:
        # No If-Match: approvers decide on the change as it stands; one decision per round.
        change = self.get_object()
        decided = self.run_service(service, change, versioned=False)
        return self._with_conflicts(change.pk, decided.conflicts)

    def _with_conflicts(self, pk: int, found: list[Conflict]) -> Response:
        change = self.reloaded(pk)
        data = s.ScheduledChangeSerializer(
            change, context={"conflicts": [asdict(conflict) for conflict in found]}
        ).data
        response = Response(data)
        response["ETag"] = change.etag
        return response

    def _link(self, service: Callable[..., services.LinkResult]) -> Response:
        result = self.run_service(service, self.get_object())
        return Response(s.ChangeLinkResultSerializer(asdict(result)).data)

    def reloaded(self, pk: int) -> Change:
        return selectors.change_list(tenant=self.tenant).get(pk=pk)


class ChangeTemplateViewSet(TenantModelViewSet):
    """Standard change templates: change managers keep them; `create-change/` makes a standard
    change from one (its plans, services and risk copied)."""

    queryset = ChangeTemplate.objects.none()
    serializer_class = s.ChangeTemplateReadSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name", "id"]
    input_serializer_classes = {
        "create": s.ChangeTemplateWriteSerializer,
        "partial_update": s.ChangeTemplateWriteSerializer,
        "create_change": s.CreateFromTemplateInputSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": CHANGE_MANAGERS,
        "partial_update": CHANGE_MANAGERS,
        "destroy": CHANGE_MANAGERS,
        "create_change": CHANGE_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[ChangeTemplate]:
        templates: QuerySet[ChangeTemplate] = selectors.template_list(
            tenant=tenant, membership=self.request.membership
        )
        return templates

    def perform_create_service(self, data: dict[str, Any]) -> ChangeTemplate:
        template = services.template_create(tenant=self.tenant, actor=self.request.user, data=data)
        return self.get_tenant_queryset(self.tenant).get(pk=template.pk)

    def perform_update_service(self, instance: ChangeTemplate, data: dict[str, Any]) -> Any:
        services.template_update(
            tenant=self.tenant, template_id=instance.pk, actor=self.request.user, data=data
        )
        return self.get_tenant_queryset(self.tenant).get(pk=instance.pk)

    def perform_destroy_service(self, instance: ChangeTemplate) -> None:
        services.template_delete(
            tenant=self.tenant, template_id=instance.pk, actor=self.request.user
        )

    @extend_schema(responses={201: s.ChangeReadSerializer})
    @action(detail=True, methods=["post"], url_path="create-change")
    def create_change(self, request: Request, **kwargs: Any) -> Response:
        """A standard change (draft) from this template."""
        template = self.get_object()
        change = services.change_create_from_template(
            tenant=self.tenant,
            template_id=template.pk,
            actor=request.user,
            data=self.validated_input(),
        )
        change = selectors.change_list(tenant=self.tenant).get(pk=change.pk)
        response = Response(s.ChangeReadSerializer(change).data, status=status.HTTP_201_CREATED)
        response["ETag"] = change.etag
        return response


class CabMemberViewSet(TenantCreateMixin, TenantDestroyMixin, TenantReadOnlyViewSet):
    """Members of the change advisory board and of the emergency board."""

    queryset = CabMember.objects.none()
    serializer_class = s.CabMemberReadSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]
    ordering_fields = ["board", "created_at"]
    ordering = ["board", "user_id"]
    input_serializer_classes = {"create": s.CabMemberWriteSerializer}
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": CHANGE_MANAGERS,
        "destroy": CHANGE_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[CabMember]:
        members: QuerySet[CabMember] = selectors.cab_member_list(
            tenant=tenant, membership=self.request.membership
        )
        return members

    def perform_create_service(self, data: dict[str, Any]) -> CabMember:
        member = services.cab_member_add(tenant=self.tenant, actor=self.request.user, **data)
        return self.get_tenant_queryset(self.tenant).get(pk=member.pk)

    def perform_destroy_service(self, instance: CabMember) -> None:
        services.cab_member_remove(
            tenant=self.tenant, actor=self.request.user, member_id=instance.pk
        )


class ApprovalRuleViewSet(TenantModelViewSet):
    """How many approvals, from which board, a change of a type and risk needs."""

    queryset = ApprovalRule.objects.none()
    serializer_class = s.ApprovalRuleReadSerializer
    ordering_fields = ["change_type", "risk"]
    ordering = ["change_type", "risk", "id"]
    input_serializer_classes = {
        "create": s.ApprovalRuleWriteSerializer,
        "partial_update": s.ApprovalRuleWriteSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": CHANGE_MANAGERS,
        "partial_update": CHANGE_MANAGERS,
        "destroy": CHANGE_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[ApprovalRule]:
        rules: QuerySet[ApprovalRule] = selectors.approval_rule_list(
            tenant=tenant, membership=self.request.membership
        )
        return rules

    def perform_create_service(self, data: dict[str, Any]) -> ApprovalRule:
        return services.approval_rule_create(tenant=self.tenant, actor=self.request.user, data=data)

    def perform_update_service(self, instance: ApprovalRule, data: dict[str, Any]) -> Any:
        return services.approval_rule_update(
            tenant=self.tenant, rule_id=instance.pk, actor=self.request.user, data=data
        )

    def perform_destroy_service(self, instance: ApprovalRule) -> None:
        services.approval_rule_delete(
            tenant=self.tenant, rule_id=instance.pk, actor=self.request.user
        )


# --- The other ends of the links (problems and incidents cannot import changes) ----------------


class _LinkedChangesScope(NumberedRecordScope):
    """`GET <records>/<reference>/changes/`: the changes linked to a record of a lower app."""

    serializer_class = s.LinkedChangeSerializer
    # Requesters see nothing of change management (403), as on the changes themselves.
    action_roles = {"changes": STAFF_ROLES}

    def linked_changes(self, record: Any) -> QuerySet[Change]:
        raise NotImplementedError

    @extend_schema(responses=s.LinkedChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def changes(self, request: Request, **kwargs: Any) -> Response:
        found = self.linked_changes(self.get_object())
        return Response(s.LinkedChangeSerializer(found, many=True).data)


class ProblemChangesViewSet(_LinkedChangesScope):
    """The changes that fix a problem (`problems/PRB-…/changes/`)."""

    model = Problem
    queryset = Problem.objects.none()

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Problem]:
        return problem_list(tenant=tenant, membership=self.request.membership)

    def linked_changes(self, record: Any) -> QuerySet[Change]:
        return selectors.problem_changes(
            tenant=self.tenant, membership=self.request.membership, problem=record
        )


class KnownErrorChangesViewSet(_LinkedChangesScope):
    """The changes that fix a known error (`known-errors/KE-…/changes/`)."""

    model = KnownError
    queryset = KnownError.objects.none()

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[KnownError]:
        return known_error_list(tenant=tenant, membership=self.request.membership)

    def linked_changes(self, record: Any) -> QuerySet[Change]:
        return selectors.problem_changes(
            tenant=self.tenant, membership=self.request.membership, known_error=record
        )


class IncidentChangesViewSet(_LinkedChangesScope):
    """The change recorded as the cause of an incident (`incidents/INC-…/changes/`: none or
    one)."""

    model = Incident
    queryset = Incident.objects.none()

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Incident]:
        return incident_list(tenant=tenant, membership=self.request.membership)

    def linked_changes(self, record: Any) -> QuerySet[Change]:
        return selectors.incident_changes(
            tenant=self.tenant, membership=self.request.membership, incident=record
        )
