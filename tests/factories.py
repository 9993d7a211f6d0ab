"""factory_boy factories; every tenant-owned factory takes `tenant=`.

Rows are inserted inside the tenant's RLS scope, as the application would write them.
`FACTORIES` maps each tenant-owned model to its factory: the cross-tenant sweep builds one
object of every routed model through it.
"""

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Model
from django.utils import timezone
from factory.django import DjangoModelFactory

from changes.models import (
    ApprovalRule,
    BlackoutWindow,
    CabMember,
    CalendarFeedToken,
    Change,
    ChangeTemplate,
)
from incidents.models import Incident, SlaPolicy
from itsm.audit.models import AuditEvent
from itsm.calendars.models import BusinessCalendar
from itsm.catalog.models import Category, Service
from itsm.notifications.models import Delivery, Notification, NotificationPreference
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from itsm.tenancy.services import allocate_number
from itsm.timers.models import Timer
from itsm.web.models import SavedView
from knowledgebase import services as kb_services
from knowledgebase.choices import ArticleStatus
from knowledgebase.models import (
    Article,
    ArticleFeedback,
    ArticleRestriction,
    ArticleTag,
    ArticleUserObjectPermission,
    ArticleVersion,
    Tag,
)
from problems.choices import REVIEW_TIMER_KIND, TrendRunStatus, TrendRunTrigger
from problems.models import (
    KnownError,
    Problem,
    ProblemSuggestion,
    SuggestionIncident,
    TrendRun,
)

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


class ProblemFactory(TenantOwnedFactory[Problem]):
    """A problem as the service records it: numbered, with its idle review timer and a
    manager, and with a documented root cause and workaround (so known errors can be made)."""

    class Meta:
        model = Problem

    title = factory.Sequence(lambda n: f"Problem {n}")
    description = "Mail relays drop connections under load."
    problem_manager = factory.LazyAttribute(
        lambda obj: MembershipFactory(tenant=obj.tenant, role=MembershipRole.PROBLEM_MANAGER).user
    )
    root_cause = "The relay's connection pool is too small."
    workaround = "Restart the relay."
    number = 0

    @classmethod
    def _create(cls, model_class: type[Problem], *args: Any, **kwargs: Any) -> Problem:
        tenant = kwargs["tenant"]
        with rls.tenant_scope(tenant.pk):
            kwargs["number"] = allocate_number(tenant=tenant, key=Problem.NUMBER_PREFIX)
            if "review_timer" not in kwargs:
                kwargs["review_timer"] = Timer.objects.create(tenant=tenant, kind=REVIEW_TIMER_KIND)
            return super()._create(model_class, *args, **kwargs)


class KnownErrorFactory(TenantOwnedFactory[KnownError]):
    class Meta:
        model = KnownError

    problem = factory.SubFactory(ProblemFactory, tenant=factory.SelfAttribute("..tenant"))
    title = factory.Sequence(lambda n: f"Known error {n}")
    symptoms = "Mail stays in the outbox."
    workaround = "Restart the relay."
    root_cause = "The relay's connection pool is too small."
    number = 0

    @classmethod
    def _create(cls, model_class: type[KnownError], *args: Any, **kwargs: Any) -> KnownError:
        tenant = kwargs["tenant"]
        with rls.tenant_scope(tenant.pk):
            kwargs["number"] = allocate_number(tenant=tenant, key=KnownError.NUMBER_PREFIX)
            return super()._create(model_class, *args, **kwargs)


class TrendRunFactory(TenantOwnedFactory[TrendRun]):
    """A finished run."""

    class Meta:
        model = TrendRun

    trigger = TrendRunTrigger.MANUAL
    status = TrendRunStatus.SUCCEEDED
    progress = 100


class ProblemSuggestionFactory(TenantOwnedFactory[ProblemSuggestion]):
    """An open suggestion of two incidents, as a run would leave it."""

    class Meta:
        model = ProblemSuggestion

    title = factory.Sequence(lambda n: f"Suggested problem {n}")
    score = 0.5
    evidence = factory.LazyFunction(lambda: {"terms": ["mail", "relay"]})
    incident_count = 2
    number = 0

    @classmethod
    def _create(
        cls, model_class: type[ProblemSuggestion], *args: Any, **kwargs: Any
    ) -> ProblemSuggestion:
        tenant = kwargs["tenant"]
        incidents = [
            IncidentFactory(tenant=tenant, title=f"Mail relay timeout {n}") for n in (1, 2)
        ]
        with rls.tenant_scope(tenant.pk):
            kwargs["number"] = allocate_number(tenant=tenant, key=ProblemSuggestion.NUMBER_PREFIX)
            suggestion = super()._create(model_class, *args, **kwargs)
            for incident in incidents:
                SuggestionIncident.objects.create(
                    tenant=tenant, suggestion=suggestion, incident=incident
                )
            return suggestion


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


class TagFactory(TenantOwnedFactory[Tag]):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"Tag {n}")
    slug = factory.Sequence(lambda n: f"tag-{n}")


class ArticleFactory(TenantOwnedFactory[Article]):
    """An article made by the service (number, rendering, first version), then put in `status`
    (published by default) as the lifecycle would leave it."""

    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"How to fix thing {n}")
    body = "Restart the **service**, then check the [status page](https://status.example.com)."
    author = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    status = ArticleStatus.PUBLISHED
    number = 0  # a built article has one too; the service numbers a created one

    @classmethod
    def _create(cls, model_class: type[Article], *args: Any, **kwargs: Any) -> Article:
        tenant, author, status = kwargs.pop("tenant"), kwargs.pop("author"), kwargs.pop("status")
        kwargs.pop("number")
        with rls.tenant_scope(tenant.pk):
            article = kb_services.article_create(tenant=tenant, actor=author, data=kwargs)
            if status != ArticleStatus.DRAFT:
                published = timezone.now() if status == ArticleStatus.PUBLISHED else None
                Article.objects.filter(pk=article.pk).update(status=status, published_at=published)
                article.refresh_from_db()
        return article


class ArticleVersionFactory(TenantOwnedFactory[ArticleVersion]):
    class Meta:
        model = ArticleVersion

    article = factory.SubFactory(ArticleFactory, tenant=factory.SelfAttribute("..tenant"))
    number = factory.LazyAttribute(lambda obj: obj.article.revision + 1)
    title = factory.LazyAttribute(lambda obj: obj.article.title)
    body = "An older text."
    author = factory.LazyAttribute(lambda obj: obj.article.author)
    status = ArticleStatus.DRAFT


class ArticleTagFactory(TenantOwnedFactory[ArticleTag]):
    class Meta:
        model = ArticleTag

    article = factory.SubFactory(ArticleFactory, tenant=factory.SelfAttribute("..tenant"))
    tag = factory.SubFactory(TagFactory, tenant=factory.SelfAttribute("..tenant"))


class ArticleRestrictionFactory(TenantOwnedFactory[ArticleRestriction]):
    class Meta:
        model = ArticleRestriction

    article = factory.SubFactory(ArticleFactory, tenant=factory.SelfAttribute("..tenant"))
    team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))


class ArticleGrantFactory(TenantOwnedFactory[ArticleUserObjectPermission]):
    """A guardian grant as the restriction service derives it: a team member may view."""

    class Meta:
        model = ArticleUserObjectPermission
        # The new team member's grant is already there (the knowledgebase receiver made it).
        django_get_or_create = ("tenant", "restriction", "team_member", "permission")

    restriction = factory.SubFactory(
        ArticleRestrictionFactory, tenant=factory.SelfAttribute("..tenant")
    )
    team_member = factory.LazyAttribute(
        lambda obj: TeamMemberFactory(tenant=obj.tenant, team=obj.restriction.team)
    )
    content_object = factory.LazyAttribute(lambda obj: obj.restriction.article)
    user = factory.LazyAttribute(lambda obj: obj.team_member.user)
    permission = factory.LazyAttribute(
        lambda _obj: Permission.objects.get(
            codename="view_article", content_type__app_label="knowledgebase"
        )
    )


class ArticleFeedbackFactory(TenantOwnedFactory[ArticleFeedback]):
    class Meta:
        model = ArticleFeedback

    article = factory.SubFactory(ArticleFactory, tenant=factory.SelfAttribute("..tenant"))
    user = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    is_helpful = True


# --- Changes ----------------------------------------------------------------------------------


class ChangeFactory(TenantOwnedFactory[Change]):
    """A draft normal change, numbered as the service numbers it, owned by a change manager."""

    class Meta:
        model = Change

    title = factory.Sequence(lambda n: f"Change {n}")
    description = "Upgrade the mail relay."
    owner = factory.LazyAttribute(
        lambda obj: MembershipFactory(tenant=obj.tenant, role=MembershipRole.CHANGE_MANAGER).user
    )
    number = 0

    @classmethod
    def _create(cls, model_class: type[Change], *args: Any, **kwargs: Any) -> Change:
        tenant = kwargs["tenant"]
        with rls.tenant_scope(tenant.pk):
            kwargs["number"] = allocate_number(tenant=tenant, key=Change.NUMBER_PREFIX)
            return super()._create(model_class, *args, **kwargs)


class ChangeTemplateFactory(TenantOwnedFactory[ChangeTemplate]):
    class Meta:
        model = ChangeTemplate

    name = factory.Sequence(lambda n: f"Standard change {n}")
    implementation_plan = "Restart the relay."


class CabMemberFactory(TenantOwnedFactory[CabMember]):
    class Meta:
        model = CabMember

    user = factory.LazyAttribute(
        lambda obj: MembershipFactory(tenant=obj.tenant, role=MembershipRole.AGENT).user
    )


class ApprovalRuleFactory(TenantOwnedFactory[ApprovalRule]):
    class Meta:
        model = ApprovalRule
        django_get_or_create = ("tenant", "change_type", "risk")

    # (type, risk) is unique per tenant: successive rules take successive pairs (six, then
    # the existing rule of the pair).
    change_type = factory.Sequence(lambda n: ("normal", "emergency")[n // 3 % 2])
    risk = factory.Sequence(lambda n: ("low", "medium", "high")[n % 3])
    approvals_required = 3


class BlackoutWindowFactory(TenantOwnedFactory[BlackoutWindow]):
    """A day-long blackout of every service, in the future."""

    class Meta:
        model = BlackoutWindow

    name = factory.Sequence(lambda n: f"Freeze {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    ends_at = factory.LazyAttribute(lambda obj: obj.starts_at + timedelta(days=1))


class CalendarFeedTokenFactory(TenantOwnedFactory[CalendarFeedToken]):
    class Meta:
        model = CalendarFeedToken

    user = factory.LazyAttribute(lambda obj: MembershipFactory(tenant=obj.tenant).user)
    digest = factory.Sequence(lambda n: f"{n:064x}")


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
    Problem: ProblemFactory,
    KnownError: KnownErrorFactory,
    ProblemSuggestion: ProblemSuggestionFactory,
    TrendRun: TrendRunFactory,
    Tag: TagFactory,
    Article: ArticleFactory,
    ArticleVersion: ArticleVersionFactory,
    ArticleTag: ArticleTagFactory,
    ArticleRestriction: ArticleRestrictionFactory,
    ArticleUserObjectPermission: ArticleGrantFactory,
    ArticleFeedback: ArticleFeedbackFactory,
    Change: ChangeFactory,
    ChangeTemplate: ChangeTemplateFactory,
    CabMember: CabMemberFactory,
    ApprovalRule: ApprovalRuleFactory,
    BlackoutWindow: BlackoutWindowFactory,
    CalendarFeedToken: CalendarFeedTokenFactory,
}
