"""What a change is linked to: the problems and known errors it fixes, the incidents it caused.
Closing a change as successful resolves the open problems it fixes.

References of another tenant read exactly like missing ones: a 400 naming them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.db import IntegrityError, transaction

from changes import timeline
from changes.choices import ChangeEventKind
from changes.errors import ChangeErrorCode, ChangeRequirementError, InvalidChangeTransitionError
from changes.models import Change, ChangeFix, ChangeIncident
from changes.notifications import notify_problems_fixed
from changes.services.base import locked
from changes.services.recording import change_create
from incidents.models import Incident
from itsm.errors import ConflictError
from itsm.tenancy.models import MAX_NUMBER, Tenant, parse_reference
from problems import services as problem_services
from problems.choices import ProblemAction, allowed_problem_actions
from problems.models import KnownError, Problem

MAX_LINKS_PER_REQUEST: Final = 1000


@dataclass
class LinkResult:
    """What a link or unlink request did, by reference."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already as asked


def _check_open(change: Change, doing: str) -> None:
    if not change.is_open:
        raise InvalidChangeTransitionError(
            f"Cannot {doing} a {change.get_status_display().lower()} change.",
            code=ChangeErrorCode.NOT_EDITABLE,
        )


def _records(
    tenant: Tenant, model: type[Any], references: Sequence[str], field_name: str
) -> list[Any]:
    """The tenant's records of `model` named by `references`, each once, in the order given.

    Raises:
        ChangeRequirementError: a reference names no record of the tenant (400, per field).
    """
    if len(references) > MAX_LINKS_PER_REQUEST:
        raise ChangeRequirementError(
            f"At most {MAX_LINKS_PER_REQUEST} per request.",
            fields={field_name: [f"At most {MAX_LINKS_PER_REQUEST} per request."]},
        )
    numbers: dict[int, str] = {}
    bad: list[str] = []
    for reference in references:
        number = parse_reference(model.NUMBER_PREFIX, str(reference))
        if number is None or number > MAX_NUMBER:
            bad.append(str(reference))
        else:
            numbers.setdefault(number, str(reference))
    found = {
        record.number: record
        for record in model.objects.for_tenant(tenant).filter(number__in=list(numbers))
    }
    bad += [reference for number, reference in numbers.items() if number not in found]
    if bad:
        raise ChangeRequirementError(
            "Some references name nothing in this tenant.",
            fields={field_name: [f"{reference} is not known here." for reference in bad]},
        )
    return [found[number] for number in numbers]


def _need_some(problems: Sequence[str], known_errors: Sequence[str]) -> None:
    if not problems and not known_errors:
        raise ChangeRequirementError(
            "Name at least one problem or known error.",
            fields={"problems": ["Name at least one problem or known error."]},
        )


@transaction.atomic
def change_link_problems(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    problems: Sequence[str] = (),
    known_errors: Sequence[str] = (),
    expected_version: int | None = None,
) -> LinkResult:
    """Record that the change fixes these problems and known errors (by reference), all or
    none; those already linked are left as they are."""
    _need_some(problems, known_errors)
    change = locked(tenant, change_id, expected_version)
    _check_open(change, "link problems to")
    targets = [
        *(("problem", p) for p in _records(tenant, Problem, problems, "problems")),
        *(("known_error", k) for k in _records(tenant, KnownError, known_errors, "known_errors")),
    ]
    fixes = ChangeFix.objects.for_tenant(tenant).filter(change=change)
    linked = {
        *(("problem", pk) for pk in fixes.values_list("problem_id", flat=True) if pk),
        *(("known_error", pk) for pk in fixes.values_list("known_error_id", flat=True) if pk),
    }
    new = [(kind, record) for kind, record in targets if (kind, record.pk) not in linked]
    result = LinkResult(
        changed=[record.reference for _, record in new],
        unchanged=[record.reference for kind, record in targets if (kind, record.pk) in linked],
    )
    if new:
        try:
            with transaction.atomic():
                ChangeFix.objects.bulk_create(
                    ChangeFix(tenant_id=tenant.pk, change=change, linked_by=actor, **{kind: record})
                    for kind, record in new
                )
        except IntegrityError as error:  # a concurrent request linked one meanwhile
            raise ConflictError(
                "A record was linked meanwhile; reload and try again.",
                code=ChangeErrorCode.ALREADY_LINKED,
            ) from error
        timeline.record(change, ChangeEventKind.PROBLEMS, actor, data={"linked": result.changed})
    return result


@transaction.atomic
def change_create_fixing(
    *,
    tenant: Tenant,
    actor: Any,
    data: Mapping[str, Any],
    problems: Sequence[str] = (),
    known_errors: Sequence[str] = (),
) -> Change:
    """Record a draft change with the problems and known errors it fixes: both or neither (a
    change is raised for a problem's fix from the workspace)."""
    change = change_create(tenant=tenant, actor=actor, data=data)
    if problems or known_errors:
        change_link_problems(
            tenant=tenant,
            change_id=change.pk,
            actor=actor,
            problems=problems,
            known_errors=known_errors,
        )
    return change


@transaction.atomic
def change_unlink_problems(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    problems: Sequence[str] = (),
    known_errors: Sequence[str] = (),
    expected_version: int | None = None,
) -> LinkResult:
    """Unlink problems and known errors (by reference); those not linked are unchanged."""
    _need_some(problems, known_errors)
    change = locked(tenant, change_id, expected_version)
    _check_open(change, "unlink problems from")
    found_problems = _records(tenant, Problem, problems, "problems")
    found_known_errors = _records(tenant, KnownError, known_errors, "known_errors")
    fixes = ChangeFix.objects.for_tenant(tenant).filter(change=change)
    linked_problems = set(
        fixes.filter(problem__in=found_problems).values_list("problem_id", flat=True)
    )
    linked_kes = set(
        fixes.filter(known_error__in=found_known_errors).values_list("known_error_id", flat=True)
    )
    gone = [p for p in found_problems if p.pk in linked_problems] + [
        k for k in found_known_errors if k.pk in linked_kes
    ]
    result = LinkResult(
        changed=[record.reference for record in gone],
        unchanged=[
            record.reference
            for record in [*found_problems, *found_known_errors]
            if record not in gone
        ],
    )
    if gone:
        fixes.filter(problem_id__in=linked_problems).delete()
        fixes.filter(known_error_id__in=linked_kes).delete()
        timeline.record(change, ChangeEventKind.PROBLEMS, actor, data={"unlinked": result.changed})
    return result


@transaction.atomic
def change_record_incidents(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    incidents: Sequence[str],
    expected_version: int | None = None,
) -> LinkResult:
    """Record incidents (by reference) as caused by the change, all or none. An incident has
    at most one such change.

    Raises:
        ConflictError: an incident is recorded as caused by another change (409).
    """
    change = locked(tenant, change_id, expected_version)
    found = _records(tenant, Incident, incidents, "incidents")
    causes = dict(
        ChangeIncident.objects.for_tenant(tenant)
        .filter(incident__in=found)
        .values_list("incident_id", "change_id")
    )
    elsewhere = [i.reference for i in found if causes.get(i.pk, change.pk) != change.pk]
    if elsewhere:
        raise ConflictError(
            "An incident is caused by at most one change; unrecord it there first.",
            code=ChangeErrorCode.ALREADY_LINKED,
            fields={"incidents": [f"{ref} is caused by another change." for ref in elsewhere]},
        )
    new = [incident for incident in found if incident.pk not in causes]
    result = LinkResult(
        changed=[incident.reference for incident in new],
        unchanged=[incident.reference for incident in found if incident.pk in causes],
    )
    if new:
        try:
            with transaction.atomic():
                ChangeIncident.objects.bulk_create(
                    ChangeIncident(
                        tenant_id=tenant.pk, change=change, incident=incident, linked_by=actor
                    )
                    for incident in new
                )
        except IntegrityError as error:
            raise ConflictError(
                "An incident was recorded meanwhile; reload and try again.",
                code=ChangeErrorCode.ALREADY_LINKED,
            ) from error
        timeline.record(change, ChangeEventKind.INCIDENTS, actor, data={"recorded": result.changed})
    return result


@transaction.atomic
def change_unrecord_incidents(
    *,
    tenant: Tenant,
    change_id: int,
    actor: Any,
    incidents: Sequence[str],
    expected_version: int | None = None,
) -> LinkResult:
    """Unrecord incidents recorded in error as caused by the change."""
    change = locked(tenant, change_id, expected_version)
    found = _records(tenant, Incident, incidents, "incidents")
    links = ChangeIncident.objects.for_tenant(tenant).filter(change=change, incident__in=found)
    linked = set(links.values_list("incident_id", flat=True))
    result = LinkResult(
        changed=[i.reference for i in found if i.pk in linked],
        unchanged=[i.reference for i in found if i.pk not in linked],
    )
    if linked:
        links.delete()
        timeline.record(
            change, ChangeEventKind.INCIDENTS, actor, data={"unrecorded": result.changed}
        )
    return result


def resolve_fixed_problems(change: Change, actor: Any) -> list[Problem]:
    """Resolve each linked problem its lifecycle lets be resolved, through the problems'
    service, with the change named in the fix notes; tell their managers."""
    candidates = (
        Problem.objects.for_tenant(change.tenant_id)
        .filter(change_fixes__change=change)
        .order_by("number")
    )
    resolved = []
    for problem in candidates:
        if ProblemAction.RESOLVE not in allowed_problem_actions(problem.status):
            continue
        resolved.append(
            problem_services.problem_resolve(
                tenant=change.tenant,
                problem_id=problem.pk,
                actor=actor,
                fix_notes=f"Fixed by {change.reference}: {change.title}",
            )
        )
    notify_problems_fixed(change, resolved, actor)
    return resolved
