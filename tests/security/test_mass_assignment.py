"""Mass assignment, swept over every write route and every role that may use it.

A body may only set the fields its input serializer lists as writable for that caller. Every
other field of the model (tenant, number, status, derived times, SLA fields, counters, version,
created_at/updated_at, and whatever a future model adds) is sent with a value that would show if
it were accepted: the answer may be a 400 naming it (the input serializers refuse unknown and
read-only keys), never a stored change. The fields come from the model and the serializer, so a
new model or field is covered without editing this test.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import models
from django.urls import reverse

from itsm.api.views import TENANT_URL_KWARG
from itsm.tenancy import rls
from itsm.tenancy.models import Membership, Tenant
from tests.factories import FACTORIES, UserFactory
from tests.reading import across_tenants
from tests.security.sweep import input_serializer
from tests.test_tenant_isolation import ROUTES, _route_id

WRITE_ACTIONS = {"create", "partial_update"}
WRITE_ROUTES = [r for r in ROUTES if WRITE_ACTIONS & set(r.actions.values())]

VISIBLE_TIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
VISIBLE_NUMBER = 4242
VISIBLE_TEXT = "mass-assigned"


def _model_name(model, source: str) -> str:
    """The model field an input writes; a boolean input `enabled` sets the field `is_enabled`."""
    names = {field.name for field in model._meta.concrete_fields}
    return f"is_{source}" if source not in names and f"is_{source}" in names else source


def _writable_sources(model, serializer) -> set[str]:
    return {
        _model_name(model, field.source.split(".")[0])
        for field in serializer.fields.values()
        if not field.read_only and field.source != "*"
    }


def _visible_value(
    field: models.Field[Any, Any], current: Any, *, tenant_b: Tenant
) -> tuple[Any, Any]:
    """(what to send, what would be stored) for a value the field does not hold now."""
    if isinstance(field, models.ForeignKey):
        related = field.related_model
        if related is Tenant:
            return tenant_b.pk, tenant_b.pk
        if related is UserFactory._meta.model:
            user = UserFactory()
            return user.pk, user.pk
        factory = FACTORIES.get(related)
        if factory is None:
            return None, None
        other = factory(tenant=tenant_b)  # any other row will do: it must not be linked
        return other.pk, other.pk
    if field.choices:
        choice = next(value for value, _ in field.flatchoices if value != current)
        return choice, choice
    if isinstance(field, models.BooleanField):
        return (not current), (not current)
    if isinstance(field, models.DateTimeField):
        return VISIBLE_TIME.isoformat(), VISIBLE_TIME
    if isinstance(field, models.DateField):
        return "2001-02-03", date(2001, 2, 3)
    if isinstance(field, models.DurationField):
        return "01:02:03", timedelta(hours=1, minutes=2, seconds=3)
    if isinstance(field, models.IntegerField | models.AutoField | models.BigAutoField):
        return VISIBLE_NUMBER, VISIBLE_NUMBER
    if isinstance(field, models.UUIDField):
        value = uuid.UUID(int=VISIBLE_NUMBER)
        return str(value), value
    if isinstance(field, models.JSONField):
        return {"mass": VISIBLE_TEXT}, {"mass": VISIBLE_TEXT}
    if isinstance(field, models.CharField | models.TextField):
        return VISIBLE_TEXT, VISIBLE_TEXT
    return None, None


def _forbidden_body(model, instance, writable: set[str], *, tenant_b) -> dict[str, Any]:
    """Every concrete model field the caller may not write -> (sent, stored-if-accepted)."""
    forbidden = {}
    for field in model._meta.concrete_fields:
        if field.name in writable or field.attname in writable:
            continue
        current = getattr(instance, field.attname) if instance is not None else field.default
        sent, stored = _visible_value(field, current, tenant_b=tenant_b)
        if sent is not None:
            forbidden[field.name] = (sent, stored)
    return forbidden


def _rows(model) -> dict[Any, dict[str, Any]]:
    return {row["id"]: row for row in across_tenants(lambda: list(model._default_manager.values()))}


def _row(model, tenant, pk) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        row: dict[str, Any] = model._default_manager.filter(pk=pk).values().get()
    return row


def _valid_body(model, serializer, instance) -> dict[str, Any]:
    """The writable fields of a built (unsaved) object, as a client would send them."""
    body = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        try:
            value = getattr(instance, _model_name(model, field.source.split(".")[0]))
        except (AttributeError, ValueError, KeyError):
            continue
        if value is None or (hasattr(value, "all") and not instance.pk):
            continue
        body[name] = field.to_representation(value)
    return body


def _built(factory, writable: set[str], tenant: Tenant) -> models.Model:
    """An unsaved object whose writable links point at saved objects of the tenant."""
    links = {
        field.name: FACTORIES[field.related_model](tenant=tenant)
        for field in factory._meta.model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
        and field.name in writable
        and field.related_model in FACTORIES
    }
    with rls.tenant_scope(tenant.pk):
        built: models.Model = factory.build(tenant=tenant, **links)
    return built


def _membership(user, tenant) -> Membership:
    with rls.tenant_scope(tenant.pk):
        return Membership.objects.select_related("tenant", "user").get(user=user, tenant=tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("route", WRITE_ROUTES, ids=_route_id)
def test_no_role_can_set_a_field_it_may_not_write(
    route, tenant_a, tenant_b, make_member, api_client
):
    model = route.model
    factory = FACTORIES[model]
    tried = 0
    for method, action in route.actions.items():
        if action not in WRITE_ACTIONS:
            continue
        for role in sorted(route.viewset.action_roles[action]):
            user = make_member(tenant_a, role)
            serializer = input_serializer(route, action, _membership(user, tenant_a))
            assert serializer is not None, (route.name, action)
            writable = _writable_sources(model, serializer)
            client = api_client(user)

            if action == "create":
                url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug})
                control = _valid_body(model, serializer, _built(factory, writable, tenant_a))
                body = _valid_body(model, serializer, _built(factory, writable, tenant_a))
                # Given a body the route accepts as it is (a create, or an upsert's 200)
                response = client.post(url, control, format="json")
                if response.status_code == 409 and response.data.get("code") == "run_in_progress":
                    continue  # a job route runs one at a time: an earlier role's is queued
                # 202: a job accepted (a trend run), written at once as queued
                assert response.status_code in {200, 201, 202}, (role, control, response.content)
                forbidden = _forbidden_body(model, None, writable, tenant_b=tenant_b)
                before = _rows(model)
                # When the same kind of body carries every field the role may not write
                sent = body | {name: value for name, (value, _) in forbidden.items()}
                response = client.post(url, sent, format="json")
                # Then no row it wrote holds any of those values
                written = [row for pk, row in _rows(model).items() if before.get(pk) != row]
                if response.status_code in {400, 409}:  # refused (409: one job at a time)
                    assert written == [], (role, response.content)
                else:
                    assert response.status_code in {200, 201, 202}, (role, response.content)
                    for row in written:
                        for name, (_, stored) in forbidden.items():
                            field = model._meta.get_field(name)
                            assert row[field.attname] != stored, (role, name)
            else:
                target = factory(tenant=tenant_a)
                lookup = {route.lookup_kwarg: route.viewset.lookup_value_of(target)}
                url = reverse(route.name, kwargs={TENANT_URL_KWARG: tenant_a.slug, **lookup})
                forbidden = _forbidden_body(model, target, writable, tenant_b=tenant_b)
                before = _row(model, tenant_a, target.pk)
                # When a PATCH carries every field the role may not write
                sent = {name: value for name, (value, _) in forbidden.items()}
                response = getattr(client, method)(url, sent, format="json")
                # Then the stored object holds none of them
                after = _row(model, tenant_a, target.pk)
                assert response.status_code in {200, 400}, (role, response.content)
                if response.status_code == 400:
                    assert after == before, role
                for name, (_, stored) in forbidden.items():
                    attname = model._meta.get_field(name).attname
                    assert after[attname] != stored or before[attname] == stored, (role, name)

            if response.status_code == 400:
                # A refusal names what it refused, so the client learns which keys to drop.
                assert set(forbidden) <= set(response.json()["fields"]), (role, response.json())
            tried += len(forbidden)
    print(f"{route.name}: {tried} forbidden field × role sends, 0 accepted")  # noqa: T201
