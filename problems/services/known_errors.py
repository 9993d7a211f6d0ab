"""Known errors: recorded from a problem whose root cause and workaround are documented, then
published for the service desk and retired when they no longer apply. Their events go on the
problem's timeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from itsm.errors import ConflictError
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import next_number
from problems import timeline
from problems.choices import KnownErrorAction, KnownErrorStatus, ProblemEventKind
from problems.errors import InvalidProblemTransitionError, ProblemErrorCode, ProblemRequirementError
from problems.lifecycle import check_known_error_action
from problems.models import KnownError
from problems.services.base import check_not_terminal, locked, locked_known_error, save

KNOWN_ERROR_EDITABLE_FIELDS = frozenset({"title", "symptoms", "workaround", "root_cause"})


@transaction.atomic
def known_error_create(
    *, tenant: Tenant, problem_id: int, actor: Any, data: Mapping[str, Any]
) -> KnownError:
    """A draft known error of the problem. Its root cause and workaround default to the
    problem's, which must both be documented.

    Raises:
        ConflictError: the problem has no documented root cause or workaround (409).
        InvalidProblemTransitionError: the problem is closed or cancelled.
    """
    problem = locked(tenant, problem_id)
    check_not_terminal(problem, "record a known error of")
    missing = [
        name for name in ("root_cause", "workaround") if not str(getattr(problem, name)).strip()
    ]
    if missing:
        raise ConflictError(
            f"Document the problem's {' and '.join(n.replace('_', ' ') for n in missing)} "
            "before recording a known error.",
            code=ProblemErrorCode.KNOWN_ERROR_NOT_READY,
            extra={"missing": missing},
        )
    known_error = KnownError(
        tenant=tenant,
        number=0,
        problem=problem,
        title=data.get("title") or problem.title,
        symptoms=data.get("symptoms", ""),
        workaround=data.get("workaround") or problem.workaround,
        root_cause=data.get("root_cause") or problem.root_cause,
    )
    known_error.full_clean(exclude=["number"])
    known_error.number = next_number(tenant=tenant, key=KnownError.NUMBER_PREFIX)
    known_error.save(force_insert=True)
    _record(known_error, actor, to_status=known_error.status, verb="recorded")
    return known_error


@transaction.atomic
def known_error_update(
    *,
    tenant: Tenant,
    known_error_id: int,
    actor: Any,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> KnownError:
    """Edit the text of a draft or published known error.

    Raises:
        InvalidProblemTransitionError: it is retired.
        ProblemRequirementError: an unknown field.
    """
    known_error = locked_known_error(tenant, known_error_id, expected_version)
    unknown = set(data) - KNOWN_ERROR_EDITABLE_FIELDS
    if unknown:
        raise ProblemRequirementError(
            "These fields change through actions.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )
    if known_error.status == KnownErrorStatus.RETIRED:
        raise InvalidProblemTransitionError(
            "A retired known error is not edited; record a new one.",
            code=ProblemErrorCode.NOT_EDITABLE,
            extra={"allowed_actions": []},
        )
    changed = [name for name, value in data.items() if getattr(known_error, name) != value]
    if not changed:
        return known_error
    for name in changed:
        setattr(known_error, name, data[name])
    known_error.full_clean(exclude=["number"])
    save(known_error, changed)
    _record(known_error, actor, verb="edited", data={"fields": sorted(changed)})
    return known_error


@transaction.atomic
def known_error_publish(
    *, tenant: Tenant, known_error_id: int, actor: Any, expected_version: int | None = None
) -> KnownError:
    """Draft → published: the service desk sees its workaround."""
    return _transition(
        tenant, known_error_id, actor, KnownErrorAction.PUBLISH, expected_version, "published_at"
    )


@transaction.atomic
def known_error_retire(
    *, tenant: Tenant, known_error_id: int, actor: Any, expected_version: int | None = None
) -> KnownError:
    """Draft or published → retired: it no longer applies."""
    return _transition(
        tenant, known_error_id, actor, KnownErrorAction.RETIRE, expected_version, "retired_at"
    )


def _transition(
    tenant: Tenant,
    known_error_id: int,
    actor: Any,
    action: KnownErrorAction,
    expected_version: int | None,
    stamp: str,
) -> KnownError:
    known_error = locked_known_error(tenant, known_error_id, expected_version)
    rule = check_known_error_action(known_error.status, action)
    previous = known_error.status
    known_error.status = rule.to_status
    setattr(known_error, stamp, timezone.now())
    save(known_error, ["status", stamp])
    _record(
        known_error, actor, from_status=previous, to_status=known_error.status, verb=str(action)
    )
    return known_error


def _record(
    known_error: KnownError,
    actor: Any,
    *,
    verb: str,
    from_status: str = "",
    to_status: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    timeline.record(
        known_error.problem,
        ProblemEventKind.KNOWN_ERROR,
        actor,
        from_status=from_status,
        to_status=to_status,
        body=f"{known_error.reference} {verb}.",
        data={"known_error": known_error.reference, **(data or {})},
    )
