"""The standard change catalogue in the workspace: change managers list, add, edit, retire,
reactivate and delete templates through the services the API uses."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.api.views import ChangeTemplateViewSet
from changes.choices import CHANGE_MANAGERS
from changes.models import Change, ChangeTemplate, TemplateService
from changes.views.catalogue import TemplateEditPage, TemplateListPage
from itsm.tenancy import rls
from tests.changes.conftest import make_change, make_template
from tests.factories import ChangeTemplateFactory, ServiceFactory


def as_user(client, user):
    client.force_login(user)
    return client


def list_url(cdesk) -> str:
    return f"/t/{cdesk.tenant.slug}/changes/catalogue/"


def edit_url(cdesk, template) -> str:
    return f"/t/{cdesk.tenant.slug}/changes/catalogue/{template.pk}/"


def templates(cdesk) -> list[Any]:
    """The tenant's template rows and their service links: what a refused request must not
    change."""
    with rls.tenant_scope(cdesk.tenant.pk):
        rows = list(ChangeTemplate.objects.order_by("id").values())
        links = list(TemplateService.objects.order_by("id").values("template_id", "service_id"))
    return [*rows, *links]


def template_data(cdesk, **data: Any) -> dict[str, Any]:
    return {
        "name": "Rotate the TLS certificate",
        "description": "Before it expires.",
        "services": [cdesk.desk.service.pk],
        "implementation_plan": "Install the new certificate, reload.",
        "backout_plan": "Put the old one back.",
        "test_plan": "Open the site.",
        "impact": "2",
        "likelihood": "1",
        "backout": "1",
        "duration_minutes": "45",
        **data,
    }


def fetch(cdesk, template) -> ChangeTemplate:
    with rls.tenant_scope(cdesk.tenant.pk):
        return ChangeTemplate.objects.get(pk=template.pk)


def test_the_pages_roles_are_the_apis_template_roles():
    for action in ("create", "partial_update", "destroy"):
        assert ChangeTemplateViewSet.action_roles[action] == CHANGE_MANAGERS
    assert TemplateListPage.page_roles == TemplateEditPage.page_roles == CHANGE_MANAGERS


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_each_template_with_the_changes_raised_from_it(cdesk, client):
    used = make_template(cdesk, name="Restart the mail relay")
    ChangeTemplateFactory(tenant=cdesk.tenant, name="Old cleanup", is_active=False)
    make_change(cdesk, change_type="standard")  # from a template of its own
    with rls.tenant_scope(cdesk.tenant.pk):
        Change.objects.filter(template__isnull=False).update(template=used)
    other = ServiceFactory(tenant=cdesk.tenant, slug="archive", name="Archive", is_active=False)

    response = as_user(client, cdesk.manager).get(list_url(cdesk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Restart the mail relay" in html
    assert cdesk.desk.service.name in html
    assert "Old cleanup" in html
    assert "Retired" in html
    assert edit_url(cdesk, used) in html
    rows = {t.name: t.changes_count for t in response.context["templates"]}
    assert rows["Restart the mail relay"] == 1
    assert rows["Old cleanup"] == 0
    # The new template's services: the tenant's active ones only.
    with rls.tenant_scope(cdesk.tenant.pk):
        choices = list(response.context["form"].fields["services"].queryset)
    assert cdesk.desk.service in choices
    assert other not in choices
    assert 'hx-get="/t/acme/changes/risk/"' in html


def test_the_list_costs_the_same_queries_for_1_or_5_templates(
    cdesk, client, django_assert_max_num_queries
):
    as_user(client, cdesk.manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(list_url(cdesk)).status_code == 200
        return len(queries)

    make_template(cdesk, name="Restart 0")
    one = count()
    for n in range(1, 5):
        make_template(cdesk, name=f"Restart {n}")
        make_change(cdesk, change_type="standard")
    assert count() == one
    with django_assert_max_num_queries(one):
        client.get(list_url(cdesk))


# --- Adding a template --------------------------------------------------------------------------


def test_a_change_manager_adds_a_template_its_risk_computed(cdesk, client):
    as_user(client, cdesk.manager)

    response = client.post(list_url(cdesk), template_data(cdesk))

    assert response.status_code == 302
    assert response["Location"] == list_url(cdesk)
    with rls.tenant_scope(cdesk.tenant.pk):
        template = ChangeTemplate.objects.get(name="Rotate the TLS certificate")
        services = list(template.services.all())
    assert (template.risk_impact, template.risk_likelihood, template.risk_backout) == (2, 1, 1)
    assert template.risk == "low"
    assert (template.duration_minutes, template.version, template.is_active) == (45, 1, True)
    assert services == [cdesk.desk.service]
    page = client.get(list_url(cdesk)).content.decode()
    assert "Template added: Rotate the TLS certificate" in page
    assert "Rotate the TLS certificate" in page


def test_the_risk_shown_is_the_one_the_answers_give(cdesk, client):
    as_user(client, cdesk.manager)
    response = client.post(
        list_url(cdesk), template_data(cdesk, name="", impact="3", likelihood="3", backout="3")
    )
    assert response.status_code == 400
    assert "Resulting risk: High" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "Restart the mail relay"}, "name", "A template with this name exists already."),
        ({"duration_minutes": "0"}, "duration_minutes", "greater than or equal to 1"),
        ({"impact": "7"}, "impact", "Select a valid choice."),
    ],
)
def test_bad_input_is_a_400_with_the_fields_error_and_nothing_written(
    cdesk, client, data, field, error
):
    make_template(cdesk)
    before = templates(cdesk)
    as_user(client, cdesk.manager)

    response = client.post(list_url(cdesk), template_data(cdesk, description="Kept text", **data))

    assert response.status_code == 400
    html = response.content.decode()
    assert "The template was not added." in html
    assert error in " ".join(response.context["form"].errors[field])
    assert "Kept text" in html
    assert templates(cdesk) == before


def test_another_tenants_service_is_not_a_choice(cdesk, client, tenant_b):
    theirs = ServiceFactory(tenant=tenant_b, slug="their-mail")
    as_user(client, cdesk.manager)

    response = client.post(list_url(cdesk), template_data(cdesk, services=[theirs.pk]))

    assert response.status_code == 400
    assert "services" in response.context["form"].errors
    assert templates(cdesk) == []


# --- Editing, retiring, deleting ----------------------------------------------------------------


def test_the_edit_page_shows_the_template_filled_in(cdesk, client):
    template = make_template(cdesk, test_plan="Send a test mail.")
    response = as_user(client, cdesk.manager).get(edit_url(cdesk, template))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == "Restart the mail relay"
    assert form["services"].value() == [cdesk.desk.service.pk]
    assert form["impact"].value() == 1
    assert "Send a test mail." in response.content.decode()
    assert "Resulting risk: Low" in response.content.decode()


def test_saving_an_edit_makes_a_new_version(cdesk, client):
    template = make_template(cdesk)
    as_user(client, cdesk.manager)

    response = client.post(
        edit_url(cdesk, template),
        {
            **template_data(cdesk, name="Restart the mail relay", duration_minutes="90"),
            "op": "save",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == edit_url(cdesk, template)
    saved = fetch(cdesk, template)
    assert (saved.version, saved.duration_minutes, saved.risk_impact) == (2, 90, 2)
    assert "Saved: version 2" in client.get(response["Location"]).content.decode()


def test_a_bad_edit_is_a_400_with_the_input_kept(cdesk, client):
    template = make_template(cdesk)
    make_template(cdesk, name="Taken")
    before = templates(cdesk)
    as_user(client, cdesk.manager)

    response = client.post(
        edit_url(cdesk, template),
        {**template_data(cdesk, name="Taken", test_plan="Kept plan"), "op": "save"},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["A template with this name exists already."]
    assert "Kept plan" in response.content.decode()
    assert templates(cdesk) == before


def test_retire_hides_the_template_from_raising_and_reactivate_brings_it_back(cdesk, client):
    template = make_template(cdesk, name="Flush the mail queue")
    as_user(client, cdesk.manager)
    create_page = f"/t/{cdesk.tenant.slug}/changes/new/"
    assert "Flush the mail queue" in client.get(create_page).content.decode()

    retired = client.post(edit_url(cdesk, template), {"op": "retire"}, follow=True)

    assert retired.redirect_chain == [(edit_url(cdesk, template), 302)]
    assert "Retired: no longer in the catalogue" in retired.content.decode()
    assert fetch(cdesk, template).is_active is False
    assert "Flush the mail queue" not in client.get(create_page).content.decode()
    assert "Retired" in client.get(list_url(cdesk)).content.decode()

    back = client.post(edit_url(cdesk, template), {"op": "reactivate"}, follow=True)

    assert back.redirect_chain == [(edit_url(cdesk, template), 302)]
    assert fetch(cdesk, template).is_active is True
    assert "Flush the mail queue" in client.get(create_page).content.decode()


def test_the_create_page_links_managers_to_the_catalogue(cdesk, client):
    link = "Maintain the catalogue"
    create_page = f"/t/{cdesk.tenant.slug}/changes/new/"
    assert link in as_user(client, cdesk.manager).get(create_page).content.decode()
    assert link not in as_user(client, cdesk.desk.l1_agent).get(create_page).content.decode()


def test_an_unused_template_is_deleted(cdesk, client):
    template = make_template(cdesk)
    as_user(client, cdesk.manager)

    response = client.post(edit_url(cdesk, template), {"op": "delete"})

    assert response.status_code == 302
    assert response["Location"] == list_url(cdesk)
    assert templates(cdesk) == []
    assert (
        "Template deleted: Restart the mail relay" in client.get(list_url(cdesk)).content.decode()
    )


def test_a_template_in_use_is_not_deleted_409(cdesk, client):
    change = make_change(cdesk, change_type="standard")
    template = fetch(cdesk, ChangeTemplate(pk=change.template_id))
    before = templates(cdesk)
    as_user(client, cdesk.manager)

    response = client.post(edit_url(cdesk, template), {"op": "delete"})

    assert response.status_code == 409
    assert "make it inactive instead" in response.content.decode()
    assert templates(cdesk) == before


def test_an_unknown_op_is_a_400(cdesk, client):
    template = make_template(cdesk)
    before = templates(cdesk)
    response = as_user(client, cdesk.manager).post(edit_url(cdesk, template), {"op": "explode"})
    assert response.status_code == 400
    assert templates(cdesk) == before


# --- Who may --------------------------------------------------------------------------------------


def test_staff_other_than_change_managers_get_403(cdesk, client):
    template = make_template(cdesk)
    before = templates(cdesk)
    for user in (cdesk.desk.l1_agent, cdesk.problem_manager, cdesk.desk.requester):
        as_user(client, user)
        assert client.get(list_url(cdesk)).status_code == 403
        assert client.post(list_url(cdesk), template_data(cdesk)).status_code == 403
        assert client.get(edit_url(cdesk, template)).status_code == 403
        assert client.post(edit_url(cdesk, template), {"op": "delete"}).status_code == 403
    assert templates(cdesk) == before


def test_a_tenant_admin_may_keep_the_catalogue(cdesk, client):
    template = make_template(cdesk)
    as_user(client, cdesk.desk.admin)
    assert client.get(list_url(cdesk)).status_code == 200
    assert client.get(edit_url(cdesk, template)).status_code == 200


def test_another_tenants_or_an_absent_template_is_a_404(cdesk, client, tenant_b, admin_b):
    theirs = ChangeTemplateFactory(tenant=tenant_b, name="Theirs")
    as_user(client, cdesk.manager)
    for template in (theirs, ChangeTemplate(pk=2**31 - 1)):
        assert client.get(edit_url(cdesk, template)).status_code == 404
        assert client.post(edit_url(cdesk, template), {"op": "delete"}).status_code == 404
    with rls.tenant_scope(tenant_b.pk):
        assert ChangeTemplate.objects.filter(pk=theirs.pk).exists()
    # A member of another tenant does not reach this tenant's catalogue at all.
    assert as_user(client, admin_b).get(list_url(cdesk)).status_code == 404


def test_anonymous_is_sent_to_log_in(cdesk, client):
    template = make_template(cdesk)
    for url in (list_url(cdesk), edit_url(cdesk, template)):
        response = client.get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]
