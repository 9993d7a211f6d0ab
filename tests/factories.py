"""factory_boy factories; every tenant-owned factory takes `tenant=`.

Rows are inserted inside the tenant's RLS scope, as the application would write them.
`FACTORIES` maps each tenant-owned model to its factory: the cross-tenant sweep builds one
object of every routed model through it.
"""

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import timezone
from factory.django import DjangoModelFactory

from incidents.models import Incident, SlaPolicy
from itsm.audit.models import AuditEvent
from itsm.calendars.models import BusinessCalendar
from itsm.catalog.models import Category, Service
from itsm.notifications.models import Delivery, Notification, NotificationPreference
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from itsm.tenancy.services import allocate_number
from itsm.web.models import SavedView

PASSWORD = "correct-horse-battery"


class TenantFactory(DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class UserFactory(DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            obj.save()


class TenantOwnedFactory[M: Model](DjangoModelFactory[M]):
    class Meta:
        abstract = True

    tenant = factory.SubFactory(TenantFactory)

    @classmethod
    def _create(cls, model_class: type[M], *args: Any, **kwargs: Any) -> M:
        with rls.tenant_scope(kwargs["tenant"].pk):
            # factory_boy is untyped here (Any); `model_class` builds an M.
            created: M = super()._create(model_class, *args, **kwargs)
        return created


class MembershipFactory(TenantOwnedFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = MembershipRole.AGENT


class TeamFactory(TenantOwnedFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    kind = TeamKind.L1


class TeamMemberFactory(TenantOwnedFactory[TeamMember]):
    class Meta:
        model = TeamMember

    team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))
    user = factory.LazyAttribute(
        lambda obj: MembershipFactory(tenant=obj.tenant).user  # a member of the tenant first
    )


class ServiceFactory(TenantOwnedFactory[Service]):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))


class CategoryFactory(TenantOwnedFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class IncidentFactory(TenantOwnedFactory[Incident]):
    """An incident numbered by the tenant's counter, as the service would number it."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    description = "Users cannot reach the service."
    reported_by = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    number = 0

    @classmethod
    def _create(cls, model_class: type[Incident], *args: Any, **kwargs: Any) -> Incident:
        tenant = kwargs["tenant"]
        with rls.tenant_scope(tenant.pk):
            kwargs["number"] = allocate_number(tenant=tenant, key=Incident.NUMBER_PREFIX)
            return super()._create(model_class, *args, **kwargs)


class BusinessCalendarFactory(TenantOwnedFactory[BusinessCalendar]):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    slug = factory.Sequence(lambda n: f"calendar-{n}")
    time_zone = "Europe/Berlin"


class SlaPolicyFactory(TenantOwnedFactory[SlaPolicy]):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    slug = factory.Sequence(lambda n: f"policy-{n}")
    response_target = timedelta(minutes=30)
    resolution_target = timedelta(hours=8)


class NotificationFactory(TenantOwnedFactory[Notification]):
    class Meta:
        model = Notification

    event_type = "incident.assigned"
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Something happened."
    reference = factory.Sequence(lambda n: f"INC-{n:06d}")


class DeliveryFactory(TenantOwnedFactory[Delivery]):
    """An in-app item, delivered (as publishing writes it) and unread."""

    class Meta:
        model = Delivery

    notification = factory.SubFactory(NotificationFactory, tenant=factory.SelfAttribute("..tenant"))
    channel = "in_app"
    user = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    status = "delivered"
    delivered_at = factory.LazyFunction(timezone.now)


class NotificationPreferenceFactory(TenantOwnedFactory[NotificationPreference]):
    class Meta:
        model = NotificationPreference

    user = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    event_type = "incident.assigned"
    channel = "email"
    is_enabled = False


class SavedViewFactory(TenantOwnedFactory[SavedView]):
    class Meta:
        model = SavedView

    user = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    page = "incidents:list"
    name = factory.Sequence(lambda n: f"View {n}")
    query = "queue=open&priority=1"


class AuditEventFactory(DjangoModelFactory[AuditEvent]):
    """An audit event: the database's record of a team being created in the tenant."""

    class Meta:
        model = AuditEvent

    @classmethod
    def _create(cls, model_class: type[AuditEvent], *args: Any, **kwargs: Any) -> AuditEvent:
        tenant = kwargs["tenant"]
        team = TeamFactory(tenant=tenant)
        with rls.tenant_scope(tenant.pk):
            return AuditEvent.objects.get(model="tenancy.team", object_id=team.pk)


FACTORIES: dict[type[Model], type[DjangoModelFactory[Any]]] = {
    Membership: MembershipFactory,
    Team: TeamFactory,
    TeamMember: TeamMemberFactory,
    Service: ServiceFactory,
    Category: CategoryFactory,
    Incident: IncidentFactory,
    BusinessCalendar: BusinessCalendarFactory,
    SlaPolicy: SlaPolicyFactory,
    Delivery: DeliveryFactory,
    NotificationPreference: NotificationPreferenceFactory,
    AuditEvent: AuditEventFactory,
    SavedView: SavedViewFactory,
}
