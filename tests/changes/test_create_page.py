"""Raise a change: a normal or emergency one (services, people, window in the tenant's time zone,
the problems it fixes), and a standard one from the catalogue of templates."""

from datetime import UTC, datetime, timedelta

import pytest

from changes import services
from changes.models import Change, ChangeFix
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.changes.conftest import make_template
from tests.factories import (
    BusinessCalendarFactory,
    ChangeTemplateFactory,
    KnownErrorFactory,
    ProblemFactory,
    ServiceFactory,
)


def as_user(client, user):
    client.force_login(user)
    return client


def create_url(cdesk, query: str = "") -> str:
    return f"/t/{cdesk.tenant.slug}/changes/new/{query}"


def changes(cdesk) -> list[Change]:
    with rls.tenant_scope(cdesk.tenant.pk):
        return list(Change.objects.order_by("id"))


def normal(cdesk, **data):
    return {
        "change_type": "normal",
        "title": "Upgrade the mail relay",
        "description": "To 2.4.",
        "services": [cdesk.desk.service.pk],
        "owner": cdesk.manager.pk,
        "implementer": cdesk.desk.l2_agent.pk,
        "planned_start": "2027-01-04T10:00",
        "planned_end": "2027-01-04T12:00",
        "implementation_plan": "Install on the standby, switch over.",
        "backout_plan": "Switch back.",
        "test_plan": "Send a test mail.",
        **data,
    }


# --- A normal or emergency change ---------------------------------------------------------------


def test_an_agent_raises_a_change_with_its_window_in_the_tenants_zone(cdesk, client):
    # Given a tenant planning in Berlin (UTC+1 in January) and a second service
    BusinessCalendarFactory(tenant=cdesk.tenant, time_zone="Europe/Berlin")
    payroll = ServiceFactory(tenant=cdesk.tenant, slug="payroll", name="Payroll")
    as_user(client, cdesk.desk.l1_agent)
    page = client.get(create_url(cdesk))
    assert page.status_code == 200
    assert "Times are in Europe/Berlin." in page.content.decode()

    # When an agent raises a change on both services
    response = client.post(
        create_url(cdesk), normal(cdesk, services=[cdesk.desk.service.pk, payroll.pk])
    )

    # Then it is recorded as a draft, its window stored in UTC, and the page goes to it
    (change,) = changes(cdesk)
    assert response.status_code == 302
    assert response["Location"] == f"/t/{cdesk.tenant.slug}/changes/{change.reference}/"
    assert change.status == "draft"
    assert change.change_type == "normal"
    assert change.planned_start == datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert change.planned_end == datetime(2027, 1, 4, 11, 0, tzinfo=UTC)
    assert change.owner_id == cdesk.manager.pk
    assert change.implementer_id == cdesk.desk.l2_agent.pk
    assert change.test_plan == "Send a test mail."
    with rls.tenant_scope(cdesk.tenant.pk):
        assert set(change.services.values_list("slug", flat=True)) == {"email", "payroll"}


def test_without_an_owner_the_creator_owns_it(cdesk, client):
    as_user(client, cdesk.desk.l1_agent)
    response = client.post(
        create_url(cdesk), normal(cdesk, owner="", change_type="emergency", planned_start="")
    )
    assert response.status_code == 302
    (change,) = changes(cdesk)
    assert change.owner_id == cdesk.desk.l1_agent.pk
    assert change.change_type == "emergency"
    assert change.planned_start is None


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"planned_end": "2027-01-04T09:00"}, "Planned end: Must be after the start."),
        ({"title": ""}, "Title: This field is required."),
        ({"change_type": "standard"}, "Type: Select a valid choice."),
        ({"owner": "999999"}, "Change owner: Select a valid choice."),
        ({"fixes": "INC-000001"}, "Not a problem or known-error reference: INC-000001."),
        ({"fixes": "PRB-000042"}, "PRB-000042 is not known here."),
    ],
)
def test_bad_input_is_a_400_and_records_nothing(cdesk, client, data, field_error):
    as_user(client, cdesk.manager)
    response = client.post(create_url(cdesk), normal(cdesk, description="Kept text", **data))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The change was not raised." in html
    assert field_error in html
    assert "Kept text" in html
    assert changes(cdesk) == []


def test_another_tenants_service_or_person_is_not_a_choice(cdesk, client, tenant_b, make_member):
    theirs = ServiceFactory(tenant=tenant_b, slug="their-mail")
    outsider = make_member(tenant_b, MembershipRole.CHANGE_MANAGER)
    as_user(client, cdesk.manager)
    for data in ({"services": [theirs.pk]}, {"implementer": outsider.pk}):
        assert client.post(create_url(cdesk), normal(cdesk, **data)).status_code == 400
    assert changes(cdesk) == []


def test_a_change_raised_from_a_problem_fixes_it(cdesk, client):
    # Given a problem, and a change manager following "Raise a change" from its page
    problem = ProblemFactory(tenant=cdesk.tenant, title="Relay pool exhausted")
    known_error = KnownErrorFactory(tenant=cdesk.tenant)
    as_user(client, cdesk.manager)
    url = create_url(cdesk, f"?problem={problem.reference}")

    # Then the form names the problem and the title says what it fixes
    html = client.get(url).content.decode()
    assert f'value="Fix for {problem.reference}: Relay pool exhausted"' in html
    assert f'value="{problem.reference}"' in html

    # When they raise it, naming a known error too
    response = client.post(
        url,
        normal(
            cdesk,
            title=f"Fix for {problem.reference}",
            fixes=f"{problem.reference}, {known_error.reference.lower()}",
        ),
    )

    # Then the change and its fixes are recorded together
    assert response.status_code == 302
    (change,) = changes(cdesk)
    with rls.tenant_scope(cdesk.tenant.pk):
        fixes = ChangeFix.objects.filter(change=change)
        assert {(fix.problem_id, fix.known_error_id) for fix in fixes} == {
            (problem.pk, None),
            (None, known_error.pk),
        }


def test_a_known_error_in_the_address_is_filled_in_too(cdesk, client):
    known_error = KnownErrorFactory(tenant=cdesk.tenant, title="Relay waits")
    html = as_user(client, cdesk.problem_manager).get(
        create_url(cdesk, f"?problem={known_error.reference}")
    )
    assert f"Fix for {known_error.reference}: Relay waits" in html.content.decode()


def test_who_may_not_link_problems_is_told_so(cdesk, client):
    problem = ProblemFactory(tenant=cdesk.tenant, title="Relay pool exhausted")
    as_user(client, cdesk.desk.l1_agent)
    url = create_url(cdesk, f"?problem={problem.reference}")
    html = client.get(url).content.decode()
    assert "Your role may not link problems to changes" in html
    assert 'name="fixes"' not in html
    assert f"Fix for {problem.reference}: Relay pool exhausted" in html

    # A fix posted anyway is ignored: the change is raised without it
    response = client.post(url, normal(cdesk, fixes=problem.reference))
    assert response.status_code == 302
    (change,) = changes(cdesk)
    with rls.tenant_scope(cdesk.tenant.pk):
        assert not ChangeFix.objects.filter(change=change).exists()


def test_another_tenants_problem_fills_nothing_in(cdesk, client, tenant_b):
    ProblemFactory(tenant=tenant_b, title="Tenant B problem")  # PRB-000001 in B only
    html = as_user(client, cdesk.manager).get(create_url(cdesk, "?problem=PRB-000001"))
    assert "Tenant B problem" not in html.content.decode()
    response = client.post(create_url(cdesk), normal(cdesk, fixes="PRB-000001"))
    assert response.status_code == 400
    assert changes(cdesk) == []


def test_a_requester_gets_403_and_a_non_member_404(cdesk, client, admin_b):
    for user, status in ((cdesk.desk.requester, 403), (admin_b, 404)):
        as_user(client, user)
        assert client.get(create_url(cdesk)).status_code == status
        assert client.post(create_url(cdesk), normal(cdesk)).status_code == status
    assert changes(cdesk) == []


def test_the_page_costs_a_bounded_number_of_queries(cdesk, client, django_assert_max_num_queries):
    for n in range(5):
        make_template(cdesk, name=f"Template {n}")
    as_user(client, cdesk.manager)
    with django_assert_max_num_queries(25):
        response = client.get(create_url(cdesk))
    assert response.content.decode().count("Raise standard change") == 5


# --- A standard change from the catalogue -------------------------------------------------------


def standard(template, **data):
    return {
        "standard-template": template.pk,
        "standard-title": "",
        "standard-planned_start": "2027-01-04T10:00",
        **data,
    }


def test_the_catalogue_lists_the_active_templates(cdesk, client):
    make_template(cdesk, name="Restart the mail relay", test_plan="Send a mail.")
    ChangeTemplateFactory(tenant=cdesk.tenant, name="Retired template", is_active=False)
    html = as_user(client, cdesk.desk.l1_agent).get(create_url(cdesk)).content.decode()
    assert "Restart the mail relay" in html
    assert "Drain, restart, check." in html
    assert "Send a mail." in html
    assert "30 minutes" in html
    assert "Retired template" not in html
    # Agents see the catalogue; only change managers raise from it (the API's create-change)
    assert "Raise standard change" not in html


def test_a_change_manager_raises_a_standard_change(cdesk, client):
    # Given a template edited once (version 2), in a Berlin tenant
    BusinessCalendarFactory(tenant=cdesk.tenant, time_zone="Europe/Berlin")
    template = make_template(cdesk)
    with rls.tenant_scope(cdesk.tenant.pk):
        services.template_update(
            tenant=cdesk.tenant,
            template_id=template.pk,
            actor=cdesk.manager,
            data={"test_plan": "Send a mail."},
        )
        template.refresh_from_db()
    assert template.version == 2

    # When a change manager raises a change from it
    response = as_user(client, cdesk.manager).post(create_url(cdesk), standard(template))

    # Then a standard change records the template and its version, with its services and plans
    assert response.status_code == 302
    (change,) = changes(cdesk)
    assert response["Location"] == f"/t/{cdesk.tenant.slug}/changes/{change.reference}/"
    assert change.change_type == "standard"
    assert change.template_id == template.pk
    assert change.template_version == 2
    assert change.title == "Restart the mail relay"
    assert change.test_plan == "Send a mail."
    assert change.planned_start == datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert change.planned_end == change.planned_start + timedelta(minutes=30)
    with rls.tenant_scope(cdesk.tenant.pk):
        assert list(change.services.all()) == [cdesk.desk.service]


def test_a_standard_change_takes_a_title_of_its_own(cdesk, client):
    template = make_template(cdesk)
    as_user(client, cdesk.manager)
    response = client.post(create_url(cdesk), standard(template, **{"standard-title": "Tonight"}))
    assert response.status_code == 302
    assert changes(cdesk)[0].title == "Tonight"


def test_an_agent_may_not_raise_a_standard_change(cdesk, client):
    template = make_template(cdesk)
    response = as_user(client, cdesk.desk.l1_agent).post(create_url(cdesk), standard(template))
    assert response.status_code == 403
    assert "Your role may not raise standard changes." in response.content.decode()
    assert changes(cdesk) == []


def test_a_retired_or_foreign_template_raises_nothing(cdesk, client, tenant_b):
    retired = ChangeTemplateFactory(tenant=cdesk.tenant, name="Retired", is_active=False)
    theirs = ChangeTemplateFactory(tenant=tenant_b, name="Theirs")
    as_user(client, cdesk.manager)

    response = client.post(create_url(cdesk), standard(retired))
    assert response.status_code == 400
    assert "The template is inactive." in response.content.decode()
    assert client.post(create_url(cdesk), standard(theirs)).status_code == 404
    bad_time = client.post(
        create_url(cdesk), standard(make_template(cdesk), **{"standard-planned_start": "soon"})
    )
    assert bad_time.status_code == 400
    assert "Enter a valid date/time." in bad_time.content.decode()
    assert changes(cdesk) == []
