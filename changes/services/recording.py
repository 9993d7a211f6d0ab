"""Recording a change and editing it while it is being prepared: details, affected services,
the risk assessment, and standard changes made from a template."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction

from changes import timeline
from changes.choices import ChangeEventKind, ChangeStatus, ChangeType
from changes.errors import ChangeErrorCode, ChangeRequirementError, InvalidChangeTransitionError
from changes.lifecycle import risk_of
from changes.models import Change, ChangeService, ChangeTemplate
from changes.services.base import locked, save
from itsm.errors import NotFoundError
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import next_number

# Fields edited directly while the change is prepared; status, risk and what follows from
# them change through actions.
EDITABLE_FIELDS = frozenset(
    {
        "title",
        "description",
        "change_type",
        "services",
        "planned_start",
        "planned_end",
        "owner",
        "implementer",
        "implementation_plan",
        "backout_plan",
        "test_plan",
    }
)
EDITABLE_STATUSES = frozenset({ChangeStatus.DRAFT, ChangeStatus.ASSESSMENT})
RISK_FIELDS = ("risk_impact", "risk_likelihood", "risk_backout")


@transaction.atomic
def change_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> Change:
    """Record a draft change: number, owner (the actor unless given), services, first event.

    Raises:
        ChangeRequirementError: a standard change not made from a template, an owner or
            implementer who is not staff, a service of another tenant.
        django.core.exceptions.ValidationError: a field is invalid (e.g. the window).
    """
    data = dict(data)
    if data.get("change_type") == ChangeType.STANDARD:
        raise ChangeRequirementError(
            "A standard change is made from a template.",
            fields={"change_type": ["Create standard changes from a change template."]},
        )
    services = list(data.pop("services", None) or [])
    data.setdefault("owner", actor)
    _check_people(tenant, data)
    _check_services(tenant, services)
    change = Change(tenant=tenant, number=0, **data)
    change.full_clean(exclude=["number"])
    change.number = next_number(tenant=tenant, key=Change.NUMBER_PREFIX)
    change.save(force_insert=True)
    _set_services(change, services)
    timeline.record(
        change,
        ChangeEventKind.CREATED,
        actor,
        to_status=change.status,
        data={"type": change.change_type},
    )
    return change


@transaction.atomic
def change_create_from_template(
    *, tenant: Tenant, template_id: int, actor: Any, data: Mapping[str, Any]
) -> Change:
    """A standard change from an active template: its plans, services and risk copied, the
    template's version recorded, the window `duration_minutes` long from `planned_start`.

    Raises:
        NotFoundError: no such template in the tenant.
        ChangeRequirementError: the template is retired (inactive).
    """
    template = ChangeTemplate.objects.for_tenant(tenant).filter(pk=template_id).first()
    if template is None:
        raise NotFoundError("No such change template.")
    if not template.is_active:
        raise ChangeRequirementError(
            "This template is no longer in use.",
            fields={"template": ["The template is inactive."]},
        )
    data = dict(data)
    start = data.get("planned_start")
    change = Change(
        tenant=tenant,
        number=0,
        title=data.get("title") or template.name,
        description=data.get("description") or template.description,
        change_type=ChangeType.STANDARD,
        template=template,
        template_version=template.version,
        planned_start=start,
        planned_end=start + timedelta(minutes=template.duration_minutes) if start else None,
        owner=data.get("owner") or actor,
        implementer=data.get("implementer"),
        implementation_plan=template.implementation_plan,
        backout_plan=template.backout_plan,
        test_plan=template.test_plan,
        risk_impact=template.risk_impact,
        risk_likelihood=template.risk_likelihood,
        risk_backout=template.risk_backout,
        risk=template.risk,
    )
    _check_people(tenant, {"owner": change.owner, "implementer": change.implementer})
    change.full_clean(exclude=["number"])
    change.number = next_number(tenant=tenant, key=Change.NUMBER_PREFIX)
    change.save(force_insert=True)
    services = list(template.service_links.values_list("service_id", flat=True))
    ChangeService.objects.bulk_create(
        ChangeService(tenant_id=tenant.pk, change=change, service_id=pk) for pk in services
    )
    timeline.record(
        change,
        ChangeEventKind.CREATED,
        actor,
        to_status=change.status,
        data={
            "type": change.change_type,
            "template": template.pk,
            "template_version": template.version,
        },
    )
    return change


@transaction.atomic
def change_update(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Change:
    """Edit a change while it is a draft or in assessment. One event names what changed.

    Raises:
        InvalidChangeTransitionError: the change is past assessment (409 not_editable).
        ChangeRequirementError: an unknown field, people who are not staff, a standard type.
    """
    change = locked(tenant, change_id, expected_version)
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ChangeRequirementError(
            "These fields change through actions.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )
    check_editable(change, "edit")
    data = dict(data)
    new_type = data.get("change_type", change.change_type)
    if new_type != change.change_type and ChangeType.STANDARD in (new_type, change.change_type):
        raise ChangeRequirementError(
            "Only a template makes a standard change.",
            fields={"change_type": ["A change becomes or stops being standard only so."]},
        )
    services = data.pop("services", None)
    changed = [name for name, value in data.items() if getattr(change, name) != value]
    _check_people(tenant, {name: data[name] for name in changed})
    for name in changed:
        setattr(change, name, data[name])
    change.full_clean(exclude=["number"])
    if services is not None and _set_services(change, services):
        changed.append("services")
    if not changed:
        return change
    save(change, [name for name in changed if name != "services"])
    timeline.record(change, ChangeEventKind.FIELDS, actor, data={"fields": sorted(changed)})
    return change


@transaction.atomic
def change_assess_risk(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    risk_impact: int,
    risk_likelihood: int,
    risk_backout: int,
    expected_version: int | None = None,
) -> Change:
    """Record the three answers of the risk assessment and the risk they give."""
    change = locked(tenant, change_id, expected_version)
    check_editable(change, "assess the risk of")
    change.risk_impact, change.risk_likelihood, change.risk_backout = (
        risk_impact,
        risk_likelihood,
        risk_backout,
    )
    change.risk = risk_of(risk_impact, risk_likelihood, risk_backout)
    save(change, [*RISK_FIELDS, "risk"])
    timeline.record(
        change,
        ChangeEventKind.RISK,
        actor,
        data={
            "impact": risk_impact,
            "likelihood": risk_likelihood,
            "backout": risk_backout,
            "risk": change.risk,
        },
    )
    return change


def check_editable(change: Change, doing: str) -> None:
    """Raises InvalidChangeTransitionError once the change is past assessment."""
    if change.status not in EDITABLE_STATUSES:
        raise InvalidChangeTransitionError(
            f"Cannot {doing} a change that is {change.get_status_display().lower()}.",
            code=ChangeErrorCode.NOT_EDITABLE,
        )


def _check_people(tenant: Tenant, data: Mapping[str, Any]) -> None:
    for name in ("owner", "implementer"):
        user = data.get(name)
        if user is not None and not tenancy.is_tenant_agent(tenant=tenant, user=user):
            raise ChangeRequirementError(
                f"The {name} must be a staff member of the tenant.",
                fields={name: ["Must be an active staff member of the tenant."]},
            )


def _check_services(tenant: Tenant, services: Iterable[Any]) -> None:
    if any(service.tenant_id != tenant.pk for service in services):
        raise ChangeRequirementError(
            "A service must belong to the same tenant.",
            fields={"services": ["Must belong to the same tenant."]},
        )


def _set_services(change: Change, services: Iterable[Any]) -> bool:
    """Make the change's affected services exactly `services`; True if they changed."""
    services = list(services)
    _check_services(change.tenant, services)
    links = ChangeService.objects.for_tenant(change.tenant_id).filter(change=change)
    current = set(links.values_list("service_id", flat=True))
    wanted = {service.pk for service in services}
    if current == wanted:
        return False
    links.exclude(service_id__in=wanted).delete()
    ChangeService.objects.bulk_create(
        ChangeService(tenant_id=change.tenant_id, change=change, service_id=pk)
        for pk in sorted(wanted - current)
    )
    return True
