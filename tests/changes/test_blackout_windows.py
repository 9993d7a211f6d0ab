"""The blackout windows API: change managers and tenant admins maintain them, staff read."""

import pytest

from changes.models import BlackoutWindow
from itsm.tenancy import rls
from tests.changes.schedule_fixtures import (  # noqa: F401  (fixtures, re-exported)
    at,
    make_blackout,
    other_sched,
    sched,
)
from tests.factories import ServiceFactory

WINDOW = {
    "name": "Quarter close",
    "starts_at": "2030-06-28T18:00:00+02:00",
    "ends_at": "2030-07-01T08:00:00Z",
    "services": ["mail"],
    "reason": "Finance closes the books.",
}


def _count(schedule) -> int:
    with rls.tenant_scope(schedule.tenant.pk):
        return BlackoutWindow.objects.count()


def test_a_change_manager_creates_edits_and_deletes_a_window(sched, api_client):  # noqa: F811
    client = api_client(sched.change_manager)

    created = client.post(sched.url("blackout-windows/"), WINDOW, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert {key: body[key] for key in ("name", "starts_at", "ends_at", "services")} == {
        "name": "Quarter close",
        "starts_at": "2030-06-28T16:00:00Z",
        "ends_at": "2030-07-01T08:00:00Z",
        "services": ["mail"],
    }
    url = sched.url(f"blackout-windows/{body['id']}/")

    edited = client.patch(url, {"services": [], "name": "Close"}, format="json")
    assert edited.status_code == 200, edited.content
    assert (edited.json()["services"], edited.json()["name"]) == ([], "Close")

    assert client.delete(url).status_code == 204
    assert _count(sched) == 0


@pytest.mark.parametrize("role", ["agent", "admin", "change_manager"])
def test_staff_read_windows(sched, api_client, role):  # noqa: F811
    window = make_blackout(sched, at(6, 0), at(7, 0), services=[sched.web])

    listed = api_client(getattr(sched, role)).get(sched.url("blackout-windows/"))

    assert listed.status_code == 200
    assert [(w["id"], w["services"]) for w in listed.json()["results"]] == [(window.pk, ["web"])]


@pytest.mark.parametrize(("role", "status_code"), [("agent", 403), ("requester", 403)])
def test_others_may_not_write(sched, api_client, role, status_code):  # noqa: F811
    response = api_client(getattr(sched, role)).post(
        sched.url("blackout-windows/"), WINDOW, format="json"
    )

    assert response.status_code == status_code
    assert _count(sched) == 0


def test_requesters_may_not_read(sched, api_client):  # noqa: F811
    window = make_blackout(sched, at(6, 0), at(7, 0))
    client = api_client(sched.requester)

    assert client.get(sched.url("blackout-windows/")).status_code == 403
    assert client.get(sched.url(f"blackout-windows/{window.pk}/")).status_code == 404


def test_a_window_must_end_after_it_starts(sched, api_client):  # noqa: F811
    client = api_client(sched.admin)
    backwards = {**WINDOW, "ends_at": "2030-06-28T16:00:00Z"}  # the start, in UTC

    created = client.post(sched.url("blackout-windows/"), backwards, format="json")
    assert created.status_code == 400
    assert list(created.json()["fields"]) == ["ends_at"]

    # And an edit moving only the start past the end is refused the same way
    window = make_blackout(sched, at(6, 0), at(7, 0))
    edited = client.patch(
        sched.url(f"blackout-windows/{window.pk}/"),
        {"starts_at": "2030-05-08T00:00:00Z"},
        format="json",
    )
    assert edited.status_code == 400
    assert list(edited.json()["fields"]) == ["ends_at"]
    assert _count(sched) == 1


def test_another_tenants_services_and_windows_are_absent(sched, other_sched, api_client):  # noqa: F811
    # Given a service only the other tenant has, and the other tenant's window
    ServiceFactory(tenant=other_sched.tenant, slug="payroll")
    theirs = make_blackout(other_sched, at(6, 0), at(7, 0))
    client = api_client(sched.change_manager)

    # Then this tenant cannot name the service, nor see, edit or delete the window
    created = client.post(
        sched.url("blackout-windows/"), {**WINDOW, "services": ["payroll"]}, format="json"
    )
    assert created.status_code == 400
    assert list(created.json()["fields"]) == ["services"]
    url = sched.url(f"blackout-windows/{theirs.pk}/")
    assert client.get(url).status_code == 404
    assert client.patch(url, {"name": "Mine"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert _count(other_sched) == 1
