"""The problems API: problems and known errors, one POST endpoint per lifecycle verb, incident
links in bulk, timelines.

Roles: problem managers and tenant administrators manage problems and known errors; agents
read them and may link incidents to a problem (the service desk recognises a known problem);
change managers read; requesters see nothing of problem management (404 on a record, 403 on a
list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import cached_property
from typing import Any, Final

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors as incident_selectors
from incidents.models import Incident
from itsm.api.views import (
    NumberedRecordScope,
    NumberedRecordViewSet,
    TenantCreateMixin,
    TenantReadOnlyViewSet,
    TenantUpdateMixin,
)
from itsm.tenancy.choices import STAFF_ROLES, MembershipRole
from itsm.tenancy.models import Tenant, parse_reference
from problems import selectors, services
from problems.api import serializers as s
from problems.choices import TrendRunTrigger
from problems.filters import KnownErrorFilterSet, ProblemFilterSet, SuggestionFilterSet
from problems.models import KnownError, Problem, ProblemSuggestion, TrendRun
from problems.tasks import start_trend_run

PROBLEM_MANAGERS: Final = frozenset({MembershipRole.PROBLEM_MANAGER, MembershipRole.TENANT_ADMIN})
LINKERS: Final = PROBLEM_MANAGERS | {MembershipRole.AGENT}


class _NumberedViewSet(NumberedRecordViewSet):
    """Problems and known errors: records addressed by reference, with ETag and If-Match."""


class _ArticleLinksMixin(_NumberedViewSet):
    """The knowledge articles linked to a problem or a known error: list, link, unlink."""

    @extend_schema(responses=s.LinkedArticleSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def articles(self, request: Request, **kwargs: Any) -> Response:
        """The linked articles the caller may read, by number, as one plain list."""
        linked = selectors.linked_articles(
            owner=self.get_object(), membership=self.request.membership
        )
        return Response(s.LinkedArticleSerializer(linked, many=True).data)

    @extend_schema(request=s.LinkArticlesInputSerializer, responses=s.ArticleLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="link-articles")
    def link_articles(self, request: Request, **kwargs: Any) -> Response:
        """Link articles by reference, all or none."""
        return self._link_articles(linked=True)

    @extend_schema(request=s.LinkArticlesInputSerializer, responses=s.ArticleLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="unlink-articles")
    def unlink_articles(self, request: Request, **kwargs: Any) -> Response:
        """Unlink articles by reference; those not linked are reported unchanged."""
        return self._link_articles(linked=False)

    def _link_articles(self, *, linked: bool) -> Response:
        result = services.articles_link(
            tenant=self.tenant,
            membership=self.request.membership,
            owner=self.get_object(),
            linked=linked,
            **self.validated_input(),
        )
        return Response(s.ArticleLinkResultSerializer(asdict(result)).data)


class ProblemViewSet(TenantCreateMixin, TenantUpdateMixin, _ArticleLinksMixin):
    """Problems of the tenant, addressed by reference (PRB-000042).

    PATCH and every lifecycle action honour `If-Match` with the ETag of a previous read (412 if
    stale); an action the lifecycle does not allow now is a 409 with `allowed_actions`.
    """

    model = Problem
    service_record_kwarg = "problem_id"
    queryset = Problem.objects.none()
    serializer_class = s.ProblemReadSerializer
    filterset_class = ProblemFilterSet
    search_fields = ["title", "description", "root_cause", "workaround"]
    ordering_fields = ["created_at", "updated_at", "priority", "number", "status", "review_at"]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {
        "create": s.ProblemCreateSerializer,
        "partial_update": s.ProblemUpdateSerializer,
        "investigate": s.EmptyInputSerializer,
        "identify_root_cause": s.RootCauseInputSerializer,
        "start_fix": s.ProblemNoteInputSerializer,
        "reinvestigate": s.ProblemReasonInputSerializer,
        "resolve": s.ProblemResolveInputSerializer,
        "close": s.ProblemNoteInputSerializer,
        "reopen": s.ProblemReasonInputSerializer,
        "cancel": s.ProblemReasonInputSerializer,
        "link_incidents": s.LinkIncidentsInputSerializer,
        "unlink_incidents": s.UnlinkIncidentsInputSerializer,
        "resolve_linked_incidents": s.ResolveLinkedInputSerializer,
        "create_known_error": s.KnownErrorCreateSerializer,
        "link_articles": s.LinkArticlesInputSerializer,
        "unlink_articles": s.LinkArticlesInputSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "timeline": STAFF_ROLES,
        "incidents": STAFF_ROLES,
        "link_incidents": LINKERS,
        "create": PROBLEM_MANAGERS,
        "partial_update": PROBLEM_MANAGERS,
        "investigate": PROBLEM_MANAGERS,
        "identify_root_cause": PROBLEM_MANAGERS,
        "start_fix": PROBLEM_MANAGERS,
        "reinvestigate": PROBLEM_MANAGERS,
        "resolve": PROBLEM_MANAGERS,
        "close": PROBLEM_MANAGERS,
        "reopen": PROBLEM_MANAGERS,
        "cancel": PROBLEM_MANAGERS,
        "unlink_incidents": PROBLEM_MANAGERS,
        "resolve_linked_incidents": PROBLEM_MANAGERS,
        "create_known_error": PROBLEM_MANAGERS,
        "articles": STAFF_ROLES,
        "link_articles": PROBLEM_MANAGERS,
        "unlink_articles": PROBLEM_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Problem]:
        return selectors.problem_list(tenant=tenant, membership=self.request.membership)

    @cached_property
    def priority_labels(self) -> dict[int, str]:
        return incident_selectors.priority_labels(tenant=self.tenant)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if getattr(self.request, "tenant", None) is not None:
            context["priority_labels"] = self.priority_labels
        return context

    # --- Writing ---

    def perform_create_service(self, data: dict[str, Any]) -> Problem:
        problem = services.problem_create(tenant=self.tenant, actor=self.request.user, data=data)
        return self.reloaded(problem.pk)

    def perform_update_service(self, instance: Problem, data: dict[str, Any]) -> Problem:
        services.problem_update(
            tenant=self.tenant,
            problem_id=instance.pk,
            actor=self.request.user,
            data=data,
            expected_version=self.expected_version(instance),
        )
        return self.reloaded(instance.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def investigate(self, request: Request, **kwargs: Any) -> Response:
        """New → under investigation."""
        return self.act(services.problem_investigate)

    @action(detail=True, methods=["post"], url_path="identify-root-cause")
    def identify_root_cause(self, request: Request, **kwargs: Any) -> Response:
        """Under investigation → root cause known, recording the root cause."""
        return self.act(services.problem_identify_root_cause)

    @action(detail=True, methods=["post"], url_path="start-fix")
    def start_fix(self, request: Request, **kwargs: Any) -> Response:
        """Root cause known → fix in progress."""
        return self.act(services.problem_start_fix)

    @action(detail=True, methods=["post"])
    def reinvestigate(self, request: Request, **kwargs: Any) -> Response:
        """Root cause known or fix in progress → under investigation, with a reason."""
        return self.act(services.problem_reinvestigate)

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, **kwargs: Any) -> Response:
        """Root cause known or fix in progress → resolved; linked incidents are told."""
        return self.act(services.problem_resolve)

    @action(detail=True, methods=["post"])
    def close(self, request: Request, **kwargs: Any) -> Response:
        """Resolved → closed."""
        return self.act(services.problem_close)

    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, **kwargs: Any) -> Response:
        """Resolved → under investigation: the fix did not hold."""
        return self.act(services.problem_reopen)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, **kwargs: Any) -> Response:
        """Withdraw an open problem recorded in error."""
        return self.act(services.problem_cancel)

    @extend_schema(responses=s.LinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="link-incidents")
    def link_incidents(self, request: Request, **kwargs: Any) -> Response:
        """Link incidents by reference, all or none; an incident has at most one problem."""
        return self._link(services.problem_link_incidents)

    @extend_schema(responses=s.LinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="unlink-incidents")
    def unlink_incidents(self, request: Request, **kwargs: Any) -> Response:
        """Unlink incidents by reference, all or none."""
        return self._link(services.problem_unlink_incidents)

    @extend_schema(responses=s.RowResultSerializer(many=True))
    @action(
        detail=True,
        methods=["post"],
        url_path="resolve-linked-incidents",
        pagination_class=None,
        filter_backends=[],
    )
    def resolve_linked_incidents(self, request: Request, **kwargs: Any) -> Response:
        """Resolve the open linked incidents of a resolved problem; a result per incident."""
        problem = self.get_object()
        rows = services.problem_resolve_linked_incidents(
            tenant=self.tenant, problem_id=problem.pk, actor=request.user, **self.validated_input()
        )
        return Response(s.RowResultSerializer([asdict(row) for row in rows], many=True).data)

    @extend_schema(responses={201: s.KnownErrorReadSerializer})
    @action(detail=True, methods=["post"], url_path="create-known-error")
    def create_known_error(self, request: Request, **kwargs: Any) -> Response:
        """A draft known error from a problem whose root cause and workaround are documented."""
        problem = self.get_object()
        known_error = services.known_error_create(
            tenant=self.tenant,
            problem_id=problem.pk,
            actor=request.user,
            data=self.validated_input(),
        )
        response = Response(
            s.KnownErrorReadSerializer(known_error).data, status=status.HTTP_201_CREATED
        )
        response["ETag"] = known_error.etag
        return response

    @extend_schema(responses=s.ProblemEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, **kwargs: Any) -> Response:
        """Every event of the problem and its known errors, in order, as one plain list."""
        events = selectors.problem_timeline(problem=self.get_object())
        return Response(s.ProblemEventSerializer(events, many=True).data)

    @extend_schema(responses=s.LinkedIncidentSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def incidents(self, request: Request, **kwargs: Any) -> Response:
        """The linked incidents, by number, as one plain list."""
        linked = selectors.problem_incidents(problem=self.get_object())
        return Response(s.LinkedIncidentSerializer(linked, many=True).data)

    # --- Helpers ---

    def _link(self, service: Callable[..., services.LinkResult]) -> Response:
        result = self.run_service(service, self.get_object())
        return Response(s.LinkResultSerializer(asdict(result)).data)

    def reloaded(self, pk: int) -> Problem:
        return selectors.problem_list(tenant=self.tenant).get(pk=pk)


class KnownErrorViewSet(TenantUpdateMixin, _ArticleLinksMixin):
    """Known errors of the tenant, addressed by reference (KE-000042); recorded from a problem
    (`POST /problems/<ref>/create-known-error/`)."""

    model = KnownError
    service_record_kwarg = "known_error_id"
    queryset = KnownError.objects.none()
    serializer_class = s.KnownErrorReadSerializer
    filterset_class = KnownErrorFilterSet
    search_fields = ["title", "symptoms", "workaround", "root_cause"]
    ordering_fields = ["created_at", "updated_at", "number", "status", "published_at"]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {
        "partial_update": s.KnownErrorUpdateSerializer,
        "publish": s.EmptyInputSerializer,
        "retire": s.EmptyInputSerializer,
        "link_articles": s.LinkArticlesInputSerializer,
        "unlink_articles": s.LinkArticlesInputSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "partial_update": PROBLEM_MANAGERS,
        "publish": PROBLEM_MANAGERS,
        "retire": PROBLEM_MANAGERS,
        "articles": STAFF_ROLES,
        "link_articles": PROBLEM_MANAGERS,
        "unlink_articles": PROBLEM_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[KnownError]:
        return selectors.known_error_list(tenant=tenant, membership=self.request.membership)

    def perform_update_service(self, instance: KnownError, data: dict[str, Any]) -> KnownError:
        services.known_error_update(
            tenant=self.tenant,
            known_error_id=instance.pk,
            actor=self.request.user,
            data=data,
            expected_version=self.expected_version(instance),
        )
        return self.reloaded(instance.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, **kwargs: Any) -> Response:
        """Draft → published."""
        return self.act(services.known_error_publish)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, **kwargs: Any) -> Response:
        """Draft or published → retired."""
        return self.act(services.known_error_retire)

    def reloaded(self, pk: int) -> KnownError:
        return selectors.known_error_list(tenant=self.tenant).get(pk=pk)


class IncidentKnowledgeViewSet(NumberedRecordScope):
    """What problem management knows about an incident (served here: incidents do not import
    problems): its problem, the published known errors and articles that best match it, and
    "apply" — a known error's workaround or an article used on it."""

    model = Incident
    queryset = Incident.objects.none()
    serializer_class = s.DiagnosisSerializer
    input_serializer_classes = {"apply_knowledge": s.ApplyKnowledgeInputSerializer}
    # Everyone who works incidents; requesters get 403 (known errors are the desk's).
    action_roles = {
        "knowledge": STAFF_ROLES,
        "apply_knowledge": STAFF_ROLES,
        "similar": STAFF_ROLES,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Incident]:
        return selectors.diagnosable_incidents(tenant=tenant, membership=self.request.membership)

    @extend_schema(responses=s.DiagnosisSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def knowledge(self, request: Request, **kwargs: Any) -> Response:
        """The incident's problem, the best matching published known errors and articles (same
        service, then category, ranked higher), and the articles already used on it."""
        diagnosis = selectors.incident_diagnosis(
            incident=self.get_object(), membership=self.request.membership
        )
        return Response(s.DiagnosisSerializer(diagnosis).data)

    @extend_schema(responses=s.SimilarIncidentSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def similar(self, request: Request, **kwargs: Any) -> Response:
        """The incidents most like this one (open or past), best first, with their scores:
        "has this happened before?"."""
        found = selectors.similar_incidents(
            incident=self.get_object(), membership=self.request.membership
        )
        return Response(s.SimilarIncidentSerializer(found, many=True).data)

    @extend_schema(responses=s.AppliedSerializer)
    @action(detail=True, methods=["post"], url_path="apply-knowledge")
    def apply_knowledge(self, request: Request, **kwargs: Any) -> Response:
        """Apply a published known error's workaround (recorded on the timeline, counted once
        per incident; an incident without a problem is linked to the known error's) or record
        that a published article helped."""
        incident = self.get_object()
        data = self.validated_input()
        applied = services.knowledge_apply(
            tenant=self.tenant,
            membership=self.request.membership,
            incident_id=incident.pk,
            known_error=data.get("known_error", ""),
            article=data.get("article", ""),
        )
        return Response(s.AppliedSerializer(asdict(applied)).data)


class SuggestionViewSet(_NumberedViewSet):
    """Problem suggestions from trend analysis (SUG-000042): the incidents and the evidence;
    problem managers accept (a new problem with the incidents linked), merge them into an
    existing problem, or dismiss them with a reason."""

    model = ProblemSuggestion
    queryset = ProblemSuggestion.objects.none()
    serializer_class = s.SuggestionReadSerializer
    filterset_class = SuggestionFilterSet
    ordering_fields = ["created_at", "score", "incident_count", "number"]
    ordering = ["-score", "-id"]
    input_serializer_classes = {
        "accept": s.SuggestionAcceptInputSerializer,
        "merge": s.SuggestionMergeInputSerializer,
        "dismiss": s.SuggestionDismissInputSerializer,
    }
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "incidents": STAFF_ROLES,
        "accept": PROBLEM_MANAGERS,
        "merge": PROBLEM_MANAGERS,
        "dismiss": PROBLEM_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[ProblemSuggestion]:
        return selectors.suggestion_list(tenant=tenant, membership=self.request.membership)

    @extend_schema(responses=s.LinkedIncidentSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def incidents(self, request: Request, **kwargs: Any) -> Response:
        """The suggestion's incidents, newest first, as one plain list."""
        incidents = selectors.suggestion_incidents(suggestion=self.get_object())
        return Response(s.LinkedIncidentSerializer(incidents, many=True).data)

    @extend_schema(responses={201: s.ProblemReadSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, **kwargs: Any) -> Response:
        """A new problem with the suggestion's incidents linked (one transaction)."""
        suggestion = self.get_object()
        problem = services.suggestion_accept(
            tenant=self.tenant,
            suggestion_id=suggestion.pk,
            actor=request.user,
            data=self.validated_input(),
            expected_version=self.expected_version(suggestion),
        )
        return self._problem(problem.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=s.ProblemReadSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, **kwargs: Any) -> Response:
        """Link the suggestion's incidents to an existing open problem."""
        suggestion = self.get_object()
        reference = self.validated_input()["problem"]
        problem = (
            selectors.problem_list(tenant=self.tenant, membership=self.request.membership)
            .filter(number=parse_reference(Problem.NUMBER_PREFIX, reference) or 0)
            .first()
        )
        if problem is None:
            raise ValidationError({"problem": [f"{reference} is not a problem of this tenant."]})
        services.suggestion_merge(
            tenant=self.tenant,
            suggestion_id=suggestion.pk,
            actor=request.user,
            problem_id=problem.pk,
            expected_version=self.expected_version(suggestion),
        )
        return self._problem(problem.pk, status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, **kwargs: Any) -> Response:
        """Dismiss with a reason: the same incidents are not suggested together again."""
        suggestion = self.get_object()
        services.suggestion_dismiss(
            tenant=self.tenant,
            suggestion_id=suggestion.pk,
            actor=request.user,
            expected_version=self.expected_version(suggestion),
            **self.validated_input(),
        )
        return self.respond_with(self.get_tenant_queryset(self.tenant).get(pk=suggestion.pk))

    def _problem(self, pk: int, code: int) -> Response:
        problem = selectors.problem_list(tenant=self.tenant).get(pk=pk)
        labels = incident_selectors.priority_labels(tenant=self.tenant)
        data = s.ProblemReadSerializer(problem, context={"priority_labels": labels}).data
        response = Response(data, status=code)
        response["ETag"] = problem.etag
        return response


class TrendRunViewSet(TenantReadOnlyViewSet):
    """Trend analysis runs, newest first: status, progress (for a progress bar), what each
    looked at and made, or why it failed. POST starts one now (409 while one is running)."""

    queryset = TrendRun.objects.none()
    serializer_class = s.TrendRunSerializer
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    input_serializer_classes = {"create": s.EmptyInputSerializer}
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": PROBLEM_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[TrendRun]:
        return selectors.trend_run_list(tenant=tenant, membership=self.request.membership)

    @extend_schema(request=None, responses={202: s.TrendRunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start a run now; it reports its progress here while the worker carries it out."""
        self.validated_input()
        run_id = start_trend_run(
            tenant=self.tenant, actor=request.user, trigger=TrendRunTrigger.MANUAL
        )
        run = self.get_tenant_queryset(self.tenant).get(pk=run_id)
        return self.respond_with(run, status.HTTP_202_ACCEPTED)
