"""The incidents API: records, descriptive edits, one POST endpoint per lifecycle verb, timeline."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors, services
from incidents import sla as sla_services
from incidents.api import serializers as s
from incidents.filters import IncidentFilterSet
from incidents.models import Incident, SlaPolicy
from itsm.api.views import (
    NumberedRecordViewSet,
    TenantCreateMixin,
    TenantModelViewSet,
    TenantUpdateMixin,
)
from itsm.audit.api.serializers import AuditEventSerializer
from itsm.audit.api.views import AuditPagination
from itsm.audit.selectors import object_history
from itsm.errors import NotFoundError, PreconditionFailedError
from itsm.tenancy.choices import ADMIN_ROLES, ALL_ROLES, STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Tenant, format_reference


class IncidentViewSet(TenantCreateMixin, TenantUpdateMixin, NumberedRecordViewSet):
    """Incidents of the tenant, addressed by reference (INC-000042).

    Requesters see and act on only the incidents they reported, and see public events only.
    PATCH and every state-changing action honour `If-Match` with the ETag of a previous read
    (412 if stale); comments, work notes and stakeholder updates only append, so they need none.
    """

    model = Incident
    service_record_kwarg = "incident_id"
    queryset = Incident.objects.none()
    serializer_class = s.IncidentReadSerializer
    filterset_class = IncidentFilterSet
    search_fields = ["title", "description"]  # the schema's description; search uses the index
    search_kind = "incident"
    # sla_due_at: the earliest due time of a running SLA clock ("due soonest" first).
    ordering_fields = ["created_at", "updated_at", "priority", "number", "status", "sla_due_at"]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {
        "create": s.IncidentCreateSerializer,
        "partial_update": s.IncidentUpdateSerializer,
        "acknowledge": s.EmptyInputSerializer,
        "assign": s.AssignInputSerializer,
        "escalate": s.EscalateInputSerializer,
        "hold": s.HoldInputSerializer,
        "resume": s.NoteInputSerializer,
        "resolve": s.ResolveInputSerializer,
        "close": s.NoteInputSerializer,
        "reopen": s.OptionalReasonInputSerializer,
        "cancel": s.ReasonInputSerializer,
        "change_priority": s.PriorityInputSerializer,
        "comment": s.CommentInputSerializer,
        "work_note": s.CommentInputSerializer,
        "declare_major": s.DeclareMajorInputSerializer,
        "stakeholder_update": s.CommentInputSerializer,
    }
    # The writes whose If-Match is checked (a 412 when stale); appends and creates take none.
    if_match_actions = frozenset(
        {
            "partial_update",
            "acknowledge",
            "assign",
            "escalate",
            "hold",
            "resume",
            "resolve",
            "close",
            "reopen",
            "cancel",
            "change_priority",
            "declare_major",
        }
    )
    action_roles = {
        # Requesters: their own incidents (the queryset sees to that).
        "list": ALL_ROLES,
        "retrieve": ALL_ROLES,
        "create": ALL_ROLES,
        "close": ALL_ROLES,
        "reopen": ALL_ROLES,
        "comment": ALL_ROLES,
        "timeline": ALL_ROLES,
        # The audit trail of the record: tenant administrators only, as the whole trail is.
        "history": ADMIN_ROLES,
        # Agents and managers; resolve and stakeholder updates check the incident too.
        "partial_update": STAFF_ROLES,
        "acknowledge": STAFF_ROLES,
        "assign": STAFF_ROLES,
        "escalate": STAFF_ROLES,
        "hold": STAFF_ROLES,
        "resume": STAFF_ROLES,
        "resolve": STAFF_ROLES,
        "cancel": STAFF_ROLES,
        "change_priority": STAFF_ROLES,
        "work_note": STAFF_ROLES,
        "declare_major": STAFF_ROLES,
        "stakeholder_update": STAFF_ROLES,
    }

    # --- Reading ---

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Incident]:
        membership = self.request.membership
        if self.action == "list":
            return selectors.incident_list_rows(tenant=tenant, membership=membership)
        # The detail has its own compiled read (`retrieve`), and an action's record is read
        # again, locked, by its service: here only what a lookup and the If-Match need.
        return (
            selectors.incident_list(tenant=tenant, membership=membership)
            .select_related(None)
            .prefetch_related(None)
            .only("pk", "tenant_id", "number", "version", "reported_by_id")
        )

    @cached_property
    def priority_labels(self) -> dict[int, str]:
        return selectors.priority_labels(tenant=self.tenant)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        # Read by the serializer on first need only (an error answer needs none).
        context["priority_labels"] = lambda: self.priority_labels
        return context

    def get_serializer_class(self) -> Any:
        return s.IncidentListSerializer if self.action == "list" else s.IncidentDetailSerializer

    def get_input_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if self.action == "create" and self.request.membership.role == MembershipRole.REQUESTER:
            kwargs.setdefault("context", self.get_serializer_context())
            return s.RequesterIncidentCreateSerializer(*args, **kwargs)
        return super().get_input_serializer(*args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = selectors.incident_detail(
            tenant=self.tenant, number=self.lookup_number(), membership=self.request.membership
        )
        if incident is None:
            raise exceptions.NotFound()
        self.check_object_permissions(request, incident)
        return self.respond_with(selectors.incident_represented(incident, tenant=self.tenant))

    # --- Writing ---

    def perform_create_service(self, data: dict[str, Any]) -> Incident:
        # Represented as the service left it (related objects, clocks and all): no re-read.
        return services.incident_create(tenant=self.tenant, actor=self.request.user, data=data)

    def perform_update_service(self, instance: Incident, data: dict[str, Any]) -> Incident:
        incident = services.incident_update(
            tenant=self.tenant,
            incident_id=instance.pk,
            actor=self.request.user,
            data=data,
            expected_version=self.expected_version(instance),
        )
        return selectors.incident_represented(incident, tenant=self.tenant)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, **kwargs: Any) -> Response:
        """Take the incident: new → in progress."""
        return self.act(services.incident_acknowledge)

    @action(detail=True, methods=["post"])
    def assign(self, request: Request, **kwargs: Any) -> Response:
        """Route to a team and/or an agent of it."""
        return self.act(services.incident_assign)

    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, **kwargs: Any) -> Response:
        """Functional (next tier or named team) or hierarchical (management) escalation."""
        return self.act(services.incident_escalate)

    @action(detail=True, methods=["post"])
    def hold(self, request: Request, **kwargs: Any) -> Response:
        """In progress → on hold, waiting for the caller, a vendor, a change or a problem."""
        return self.act(services.incident_hold)

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, **kwargs: Any) -> Response:
        """On hold → in progress."""
        return self.act(services.incident_resume)

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, **kwargs: Any) -> Response:
        """In progress → resolved, with a resolution code and notes."""
        return self.act(services.incident_resolve)

    @action(detail=True, methods=["post"])
    def close(self, request: Request, **kwargs: Any) -> Response:
        """Resolved → closed: the reporter confirms (or an agent closes)."""
        return self.act(services.incident_close)

    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, **kwargs: Any) -> Response:
        """Resolved → in progress, within the tenant's reopen window."""
        return self.act(services.incident_reopen)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, **kwargs: Any) -> Response:
        """Withdraw an open incident recorded in error."""
        return self.act(services.incident_cancel)

    @action(detail=True, methods=["post"], url_path="change-priority")
    def change_priority(self, request: Request, **kwargs: Any) -> Response:
        """Re-rate impact and urgency, with a reason."""
        return self.act(services.incident_change_priority)

    @action(detail=True, methods=["post"], url_path="declare-major")
    def declare_major(self, request: Request, **kwargs: Any) -> Response:
        """Run as a major incident under a named incident commander."""
        return self.act(services.incident_declare_major)

    @extend_schema(responses={201: s.IncidentEventSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, **kwargs: Any) -> Response:
        """A public comment: the reporter sees it."""
        return self._add_event(services.incident_comment, is_public=True)

    @extend_schema(responses={201: s.IncidentEventSerializer})
    @action(detail=True, methods=["post"], url_path="work-note")
    def work_note(self, request: Request, **kwargs: Any) -> Response:
        """An internal work note."""
        return self._add_event(services.incident_comment, is_public=False)

    @extend_schema(responses={201: s.IncidentEventSerializer})
    @action(detail=True, methods=["post"], url_path="stakeholder-update")
    def stakeholder_update(self, request: Request, **kwargs: Any) -> Response:
        """A stakeholder update on a major incident, by its commander or management."""
        return self._add_event(services.incident_stakeholder_update)

    @extend_schema(responses=s.IncidentEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, **kwargs: Any) -> Response:
        """Every event in order, as one plain list; requesters get the public ones."""
        incident = self.get_object()
        public_only = self.request.membership.role == MembershipRole.REQUESTER
        events = selectors.incident_timeline(incident=incident, public_only=public_only)
        return Response(s.IncidentEventSerializer(events, many=True).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=AuditPagination, filter_backends=[])
    def history(self, request: Request, **kwargs: Any) -> Response:
        """Every recorded change of the incident, newest first: who or what, field, old, new."""
        incident = self.get_object()
        page = self.paginate_queryset(object_history(tenant=self.tenant, obj=incident))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)

    # --- Helpers ---

    def _add_event(self, service: Callable[..., Any], **options: Any) -> Response:
        incident = self.named_incident()
        event = self._locking(service, incident, **self.validated_input(), **options)
        return Response(s.IncidentEventSerializer(event).data, status=status.HTTP_201_CREATED)

    def act(self, service: Callable[..., Any]) -> Response:
        incident = self.named_incident()
        arguments = self.validated_input()
        reference = format_reference(Incident.NUMBER_PREFIX, incident.number)
        version = self.expected_version_of(reference)
        result = self._locking(service, incident, **arguments, expected_version=version)
        # As the service left it, with what its locking read loaded: nothing is read back.
        return self.respond_with(selectors.incident_represented(result, tenant=self.tenant))

    def handle_exception(self, exc: Exception) -> Response:
        # An action reads its incident only in the service's lock, after its input and If-Match
        # are checked: an absent (or another tenant's) incident is still a 404 before a 400 or
        # a 412. Only a refusal before the service pays for this lookup (a service's refusal
        # found the incident, and has doomed the transaction).
        refused_before = not transaction.get_rollback()
        if (
            self.detail
            and refused_before
            and isinstance(exc, exceptions.ValidationError | PreconditionFailedError)
        ):
            try:
                self.get_object()
            except Http404 as absent:
                exc = absent
        return super().handle_exception(exc)

    def named_incident(self) -> services.IncidentNumber:
        """The incident the URL names, in the member's sight (a requester's own): the services
        lock it by its number, so nothing is read before their locking read."""
        reporter = selectors.visible_reporter(self.request.membership)
        return services.IncidentNumber(self.lookup_number(), reported_by_id=reporter)

    def _locking(
        self, service: Callable[..., Any], incident: services.IncidentNumber, **arguments: Any
    ) -> Any:
        try:
            return service(
                tenant=self.tenant, incident_id=incident, actor=self.request.user, **arguments
            )
        except NotFoundError:
            raise exceptions.NotFound() from None  # the answer of every absent record


class SlaPolicyViewSet(TenantModelViewSet):
    """The tenant's SLA policies, tried in order; tenant administrators change them."""

    queryset = SlaPolicy.objects.none()
    serializer_class = s.SlaPolicyReadSerializer
    input_serializer_classes = {
        "create": s.SlaPolicyWriteSerializer,
        "partial_update": s.SlaPolicyWriteSerializer,
    }
    lookup_field = "slug"
    search_fields = ["name", "slug"]
    ordering_fields = ["order", "name"]
    ordering = ["order", "id"]
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "compliance": STAFF_ROLES,
        "create": ADMIN_ROLES,
        "partial_update": ADMIN_ROLES,
        "destroy": ADMIN_ROLES,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[SlaPolicy]:
        return selectors.sla_policy_list(tenant=tenant)

    def perform_create_service(self, data: dict[str, Any]) -> SlaPolicy:
        return sla_services.sla_policy_create(tenant=self.tenant, data=data)

    def perform_update_service(self, instance: SlaPolicy, data: dict[str, Any]) -> SlaPolicy:
        return sla_services.sla_policy_update(policy=instance, data=data)

    def perform_destroy_service(self, instance: SlaPolicy) -> None:
        sla_services.sla_policy_delete(policy=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("until", OpenApiTypes.DATETIME, required=True),
        ],
        responses=s.ComplianceSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def compliance(self, request: Request, **kwargs: Any) -> Response:
        """Met and breached clocks of incidents reported in [since, until), per clock kind."""
        policy = self.get_object()  # first: another tenant's policy is a 404, whatever the input
        period = s.CompliancePeriodSerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        rows = selectors.sla_policy_compliance(policy=policy, **period.validated_data)
        return Response(s.ComplianceSerializer(rows, many=True).data)
