"""The tenant's change configuration: standard change templates, the members of its change
advisory boards, and its approval rules. Change managers and tenant administrators keep them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from changes.errors import ChangeRequirementError
from changes.lifecycle import risk_of
from changes.models import ApprovalRule, CabMember, ChangeTemplate, TemplateService
from changes.services.recording import RISK_FIELDS
from itsm.errors import ConflictError, NotFoundError
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.models import Tenant


def _template(tenant: Tenant, template_id: int) -> ChangeTemplate:
    template = (
        ChangeTemplate.objects.for_tenant(tenant).select_for_update().filter(pk=template_id).first()
    )
    if template is None:
        raise NotFoundError("No such change template.")
    return template


def _set_template_services(template: ChangeTemplate, services: Iterable[Any]) -> bool:
    services = list(services)
    if any(service.tenant_id != template.tenant_id for service in services):
        raise ChangeRequirementError(
            "A service must belong to the same tenant.",
            fields={"services": ["Must belong to the same tenant."]},
        )
    links = TemplateService.objects.for_tenant(template.tenant_id).filter(template=template)
    current = set(links.values_list("service_id", flat=True))
    wanted = {service.pk for service in services}
    if current == wanted:
        return False
    links.exclude(service_id__in=wanted).delete()
    TemplateService.objects.bulk_create(
        TemplateService(tenant_id=template.tenant_id, template=template, service_id=pk)
        for pk in sorted(wanted - current)
    )
    return True


@transaction.atomic
def template_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> ChangeTemplate:
    """A standard change template, its risk from its three answers.

    Raises:
        django.core.exceptions.ValidationError: a field is invalid, or the name is taken.
    """
    data = dict(data)
    services = list(data.pop("services", None) or [])
    template = ChangeTemplate(tenant=tenant, **data)
    template.risk = risk_of(*(getattr(template, name) for name in RISK_FIELDS))
    template.full_clean()
    template.save(force_insert=True)
    _set_template_services(template, services)
    return template


@transaction.atomic
def template_update(
    *, tenant: Tenant, template_id: int, actor: Any, data: Mapping[str, Any]
) -> ChangeTemplate:
    """Edit a template; any change is a new version (changes made earlier keep theirs)."""
    template = _template(tenant, template_id)
    data = dict(data)
    services = data.pop("services", None)
    changed = [name for name, value in data.items() if getattr(template, name) != value]
    for name in changed:
        setattr(template, name, data[name])
    template.risk = risk_of(*(getattr(template, name) for name in RISK_FIELDS))
    template.full_clean()
    if services is not None and _set_template_services(template, services):
        changed.append("services")
    if changed:
        template.version += 1
        template.save()
    return template


@transaction.atomic
def template_delete(*, tenant: Tenant, template_id: int, actor: Any) -> None:
    """Delete a template no change was made from; a used one is made inactive instead.

    Raises:
        ConflictError: changes were made from it (409 in_use).
    """
    template = _template(tenant, template_id)
    if template.changes.exists():
        raise ConflictError(
            "Changes were made from this template; make it inactive instead.", code="in_use"
        )
    TemplateService.objects.for_tenant(tenant).filter(template=template).delete()
    template.delete()


@transaction.atomic
def cab_member_add(*, tenant: Tenant, actor: Any, user: Any, board: str) -> CabMember:
    """Put a staff member on a board (idempotent).

    Raises:
        ChangeRequirementError: the user is not an active staff member of the tenant.
    """
    if not tenancy.is_tenant_agent(tenant=tenant, user=user):
        raise ChangeRequirementError(
            "Board members are staff members of the tenant.",
            fields={"user": ["Must be an active staff member of the tenant."]},
        )
    member, _ = CabMember.objects.for_tenant(tenant).get_or_create(
        tenant=tenant, user=user, board=board
    )
    return member


@transaction.atomic
def cab_member_remove(*, tenant: Tenant, actor: Any, member_id: int) -> None:
    """Take a member off a board; grants already given for changes in approval stay."""
    deleted, _ = CabMember.objects.for_tenant(tenant).filter(pk=member_id).delete()
    if not deleted:
        raise NotFoundError("No such board member.")


@transaction.atomic
def approval_rule_create(*, tenant: Tenant, actor: Any, data: Mapping[str, Any]) -> ApprovalRule:
    """A rule for one (type, risk).

    Raises:
        django.core.exceptions.ValidationError: invalid, or that type and risk have a rule.
    """
    rule = ApprovalRule(tenant=tenant, **data)
    _check_rule_unique(rule)
    rule.full_clean()
    rule.save(force_insert=True)
    return rule


@transaction.atomic
def approval_rule_update(
    *, tenant: Tenant, rule_id: int, actor: Any, data: Mapping[str, Any]
) -> ApprovalRule:
    """Edit a rule; changes already awaiting approval keep what they were asked."""
    rule = ApprovalRule.objects.for_tenant(tenant).select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFoundError("No such approval rule.")
    for name, value in data.items():
        setattr(rule, name, value)
    _check_rule_unique(rule)
    rule.full_clean()
    rule.save()
    return rule


def _check_rule_unique(rule: ApprovalRule) -> None:
    """Raises ChangeRequirementError, naming the risk, when the pair has a rule already."""
    taken = (
        ApprovalRule.objects.for_tenant(rule.tenant_id)
        .filter(change_type=rule.change_type, risk=rule.risk)
        .exclude(pk=rule.pk)
        .exists()
    )
    if taken:
        raise ChangeRequirementError(
            "This type and risk have a rule already; edit that one.",
            fields={"risk": ["A rule for this type and risk exists."]},
        )


@transaction.atomic
def approval_rule_delete(*, tenant: Tenant, rule_id: int, actor: Any) -> None:
    """Delete a rule: the default applies again."""
    deleted, _ = ApprovalRule.objects.for_tenant(tenant).filter(pk=rule_id).delete()
    if not deleted:
        raise NotFoundError("No such approval rule.")
