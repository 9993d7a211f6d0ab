"""Celery tasks of the tenancy engine."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.utils import timezone

from itsm.tenancy.models import Membership, Tenant
from itsm.tenancy.tasking import tenant_task


@tenant_task()
def send_membership_welcome_task(*, tenant: Tenant, membership_id: int) -> None:
    """Tell a user by e-mail which role they have been given in the tenant."""
    membership = (
        Membership.objects.for_tenant(tenant)
        .select_related("user")
        .filter(pk=membership_id, is_active=True)
        .first()
    )
    if membership is None or not membership.user.email:
        return
    send_mail(
        subject=f"You have been added to {tenant.name}",
        message=(
            f"Hello {membership.user.get_username()},\n\n"
            f"you now have the role {membership.get_role_display()} in {tenant.name}.\n"
        ),
        from_email=None,
        recipient_list=[membership.user.email],
    )


@shared_task
def purge_expired_sessions_task() -> int:
    """Delete expired web sessions; returns how many went."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
