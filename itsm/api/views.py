"""The base every tenant endpoint is built on, and the user's own `/api/v1/me/`.

A request to `/api/v1/t/<tenant_slug>/...` is resolved once: authenticate, find the active
membership of the URL's tenant (absent tenant and non-member are the same 404), set row-level
security for that tenant, check the member's role for the action. Each request runs in one
transaction; an error response rolls it back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.db import models, transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.mixins import ListModelMixin, RetrieveModelMixin
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from itsm.api.permissions import HasActionRole, IsTenantMember
from itsm.api.request import TENANT_TO_ENTER, TenantRequest
from itsm.audit.context import audit_context_update, user_context
from itsm.errors import PreconditionFailedError
from itsm.tenancy import rls
from itsm.tenancy.models import MAX_NUMBER, Tenant, parse_reference
from itsm.tenancy.selectors import tenant_membership_resolve, user_membership_list

TENANT_URL_KWARG = "tenant_slug"


class TenantScopedViewSet(GenericViewSet[Any]):
    """Base of every endpoint under `/api/v1/t/<tenant_slug>/`.

    Subclasses declare `queryset = Model.objects.none()` (fail closed, and for schema
    introspection), implement `get_tenant_queryset` through a selector, and list in
    `action_roles` the roles allowed for every action they have.
    """

    permission_classes = [IsAuthenticated, IsTenantMember, HasActionRole]
    action_roles: ClassVar[Mapping[str, frozenset[str]]] = {}
    input_serializer_classes: ClassVar[Mapping[str, type[serializers.BaseSerializer[Any]]]] = {}
    request: TenantRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with rls.scope():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        request.tenant = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        setattr(request, TENANT_TO_ENTER, kwargs[TENANT_URL_KWARG])
        if request.user.is_authenticated:
            membership = tenant_membership_resolve(
                user=request.user, tenant_slug=kwargs[TENANT_URL_KWARG]
            )
            if membership is None:
                raise exceptions.NotFound("No such tenant.")
            request.membership = membership  # type: ignore[attr-defined]
            request.tenant = membership.tenant  # type: ignore[attr-defined]
            # Token users are known only now, after DRF's authentication: name them on the
            # audit events this request writes (the middleware opened the context).
            audit_context_update(**user_context(request.user))
        super().initial(request, *args, **kwargs)

    def check_permissions(self, request: Request) -> None:
        try:
            super().check_permissions(request)
        except exceptions.PermissionDenied:
            # An object the member cannot see is absent, whatever the action: 404 before 403,
            # so a role refusal never confirms that someone else's object exists.
            if self.detail and getattr(request, "membership", None) is not None:
                self.get_object()
            raise

    @property
    def tenant(self) -> Tenant:
        return self.request.tenant

    def get_queryset(self) -> models.QuerySet[Any]:
        return self.get_tenant_queryset(self.request.tenant)

    def get_tenant_queryset(self, tenant: Tenant) -> models.QuerySet[Any]:
        raise NotImplementedError(f"{type(self).__name__} must scope its queryset to the tenant.")

    @classmethod
    def lookup_value_of(cls, instance: models.Model) -> str:
        """The value that addresses `instance` in this viewset's detail URLs."""
        return str(getattr(instance, cls.lookup_field))

    def get_input_serializer(self, *args: Any, **kwargs: Any) -> serializers.BaseSerializer[Any]:
        serializer_class = self.input_serializer_classes[self.action]
        kwargs.setdefault("context", self.get_serializer_context())
        return serializer_class(*args, **kwargs)

    def validated_input(self, instance: Any = None, *, partial: bool = False) -> dict[str, Any]:
        serializer = self.get_input_serializer(instance, data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        return data

    def respond_with(self, instance: Any, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(instance).data, status=status_code)


class TenantReadOnlyViewSet(ListModelMixin, RetrieveModelMixin, TenantScopedViewSet):
    """List and retrieve."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class NumberedRecordScope(TenantScopedViewSet):
    """Endpoints addressed by a record's reference (INC-000042, PRB-…, KB-…): the lookup alone,
    for viewsets that only add actions to another app's records."""

    model: ClassVar[type[Any]]
    lookup_field = "number"
    lookup_url_kwarg = "reference"
    # Grouped, so the schema's pattern (anchored as ^…$) matches the whole value.
    lookup_value_regex = r"(?:[A-Za-z]+-\d+|\d+)"

    def get_object(self) -> Any:
        instance = get_object_or_404(self.get_queryset(), number=self.lookup_number())
        self.check_object_permissions(self.request, instance)
        return instance

    def lookup_number(self) -> int:
        """The number of the record the URL names (404 if it names none of ours)."""
        number = parse_reference(self.model.NUMBER_PREFIX, self.kwargs[self.lookup_url_kwarg])
        if number is None or number > MAX_NUMBER:
            raise exceptions.NotFound()
        return number

    @classmethod
    def lookup_value_of(cls, instance: Any) -> str:
        return str(instance.reference)


class NumberedRecordViewSet(ListModelMixin, RetrieveModelMixin, NumberedRecordScope):
    """Records addressed by their reference, listed and read, with an ETag naming the version
    read, and the version an `If-Match` names for the services to check."""

    http_method_names = TenantReadOnlyViewSet.http_method_names
    # The services' keyword for the record: "incident_id", "problem_id", "change_id", …
    service_record_kwarg: ClassVar[str] = ""

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.respond_with(self.get_object())

    def reloaded(self, pk: int) -> Any:
        """The record after a write, loaded as its representation reads it."""
        raise NotImplementedError

    def run_service(
        self, service: Callable[..., Any], record: Any, *, versioned: bool = True
    ) -> Any:
        """Call one of the record's services for this request: the tenant, the record, the
        actor, the validated input and, unless the service takes none, the version an If-Match
        names."""
        arguments: dict[str, Any] = {
            "tenant": self.tenant,
            self.service_record_kwarg: record.pk,
            "actor": self.request.user,
            **self.validated_input(),
        }
        if versioned:
            arguments["expected_version"] = self.expected_version(record)
        return service(**arguments)

    def act(self, service: Callable[..., Any]) -> Response:
        """A lifecycle action through its service; the answer is the record as it is now."""
        record = self.get_object()
        self.run_service(service, record)
        return self.respond_with(self.reloaded(record.pk))

    def respond_with(self, instance: Any, status_code: int = status.HTTP_200_OK) -> Response:
        response = super().respond_with(instance, status_code)
        response["ETag"] = instance.etag
        return response

    def expected_version(self, instance: Any) -> int | None:
        """The version named by If-Match; None without one. Another record's tag is stale, and
        so is a tag of the old `"<pk>-<version>"` form."""
        return self.expected_version_of(instance.reference)

    def expected_version_of(self, reference: str) -> int | None:
        """`expected_version` of the record `reference` names, before (or without) reading it."""
        header = self.request.headers.get("If-Match", "").strip()
        if not header or header == "*":
            return None
        tagged, _, version = header.removeprefix("W/").strip('"').rpartition("-")
        # ASCII digits only, and few enough for int(): anything else names no version.
        if tagged != reference or not re.fullmatch(r"\d{1,18}", version, re.ASCII):
            raise PreconditionFailedError(
                f"If-Match does not name a version of this {self.model._meta.verbose_name}.",
                code="stale_version",
            )
        return int(version)


class TenantCreateMixin(TenantScopedViewSet):
    """POST to the list: validate with the input serializer, create through the service."""

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.perform_create_service(self.validated_input())
        return self.respond_with(instance, status.HTTP_201_CREATED)

    def perform_create_service(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError


class TenantUpdateMixin(TenantScopedViewSet):
    """PATCH (no PUT: clients send what they change)."""

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        instance = self.perform_update_service(
            instance, self.validated_input(instance, partial=True)
        )
        return self.respond_with(instance)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError


class TenantDestroyMixin(TenantScopedViewSet):
    """DELETE through the service (which refuses what is still in use)."""

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.perform_destroy_service(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_destroy_service(self, instance: Any) -> None:
        raise NotImplementedError


class TenantModelViewSet(
    TenantCreateMixin, TenantUpdateMixin, TenantDestroyMixin, TenantReadOnlyViewSet
):
    """List, retrieve, create, partial update and delete, each write through a service."""


# --- The user's own view -----------------------------------------------------------------------


class MembershipSummarySerializer(serializers.Serializer[Any]):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)
    role = serializers.CharField(read_only=True)
    api_root = serializers.SerializerMethodField()

    def get_api_root(self, membership: Any) -> str:
        return f"/api/v1/t/{membership.tenant.slug}/"


class MeSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    memberships = MembershipSummarySerializer(many=True, read_only=True)


class MeView(APIView):
    """Who the caller is and which tenants they belong to, with which role."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        assert user.pk is not None  # IsAuthenticated
        with rls.user_scope(user.pk):
            memberships = list(user_membership_list(user=user))
        me = {
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "full_name": user.get_full_name(),
            "memberships": memberships,
        }
        return Response(MeSerializer(me).data)
