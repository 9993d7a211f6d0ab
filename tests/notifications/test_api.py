"""The notifications API: every member's own inbox and preferences, nobody else's."""

from typing import Any

import pytest

from itsm.notifications.models import Delivery
from itsm.notifications.services import notification_preference_set
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.conftest import api_url
from tests.factories import DeliveryFactory, MembershipFactory, NotificationFactory
from tests.notifications.conftest import DIGEST, PING

pytestmark = pytest.mark.django_db


def _item(tenant, user, title: str, **fields: Any) -> Delivery:
    notification = NotificationFactory(tenant=tenant, title=title, reference="INC-000042")
    return DeliveryFactory(tenant=tenant, notification=notification, user=user, **fields)


def _read_at(delivery: Delivery) -> Any:
    with rls.tenant_scope(delivery.tenant_id):
        return Delivery.objects.get(pk=delivery.pk).read_at


def _titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


@pytest.mark.parametrize("role", list(MembershipRole))
def test_every_role_reads_and_marks_its_own_inbox(role, tenant_a, make_member, api_client):
    # Given a member of any role with two items
    user = make_member(tenant_a, role)
    first = _item(tenant_a, user, "First")
    _item(tenant_a, user, "Second")
    client = api_client(user)

    # When they list, mark one read, list the unread, mark all read
    listed = client.get(api_url(tenant_a, "notifications/"))
    read = client.post(api_url(tenant_a, f"notifications/{first.pk}/read/"))
    unread = client.get(api_url(tenant_a, "notifications/"), {"unread": "true"})
    read_all = client.post(api_url(tenant_a, "notifications/read-all/"))
    preferences = client.get(api_url(tenant_a, "notification-preferences/"))
    chosen = client.post(
        api_url(tenant_a, "notification-preferences/"),
        {"event_type": PING, "channel": "email", "enabled": False},
    )

    # Then every step works for every role
    assert [r.status_code for r in (listed, read, unread, read_all, preferences, chosen)] == [
        200
    ] * 6
    assert (_titles(listed), listed.json()["unread_count"]) == (["Second", "First"], 2)
    assert (read.json()["title"], read.json()["is_read"]) == ("First", True)
    assert (_titles(unread), unread.json()["unread_count"]) == (["Second"], 1)
    assert read_all.json() == {"marked_read": 1, "unread_count": 0}
    assert chosen.json()["enabled"] is False


def test_an_item_is_shown_with_what_the_notification_says(tenant_a, agent_a, api_client):
    item = _item(tenant_a, agent_a, "Assigned to you: [INC-000042] Mail is down")

    response = api_client(agent_a).get(api_url(tenant_a, "notifications/"))

    assert response.json()["results"] == [
        {
            "id": item.pk,
            "event_type": "incident.assigned",
            "title": "Assigned to you: [INC-000042] Mail is down",
            "body": "Something happened.",
            "link": "",
            "reference": "INC-000042",
            "created_at": response.json()["results"][0]["created_at"],
            "is_read": False,
            "read_at": None,
        }
    ]
    assert response.json()["next"] is None


def test_the_inbox_lists_only_the_callers_in_app_items_of_this_tenant(
    tenant_a, tenant_b, agent_a, make_member, api_client
):
    # Given the caller's item, a colleague's, the caller's e-mail, and the caller's item in B
    MembershipFactory(tenant=tenant_b, user=agent_a)
    _item(tenant_a, agent_a, "Mine")
    _item(tenant_a, make_member(tenant_a), "A colleague's")
    _item(
        tenant_a,
        agent_a,
        "My e-mail",
        channel="email",
        address="agent-a@example.com",
        status="pending",
        next_attempt_at="2030-01-01T00:00:00Z",
    )
    _item(tenant_b, agent_a, "Mine in B")

    response = api_client(agent_a).get(api_url(tenant_a, "notifications/"))

    assert (_titles(response), response.json()["unread_count"]) == (["Mine"], 1)


def test_the_inbox_pages_by_cursor_newest_first_with_constant_queries(
    tenant_a, agent_a, api_client, django_assert_num_queries
):
    for index in range(7):
        _item(tenant_a, agent_a, f"N{index}")
    client = api_client(agent_a)

    with django_assert_num_queries(6):
        first = client.get(api_url(tenant_a, "notifications/"), {"page_size": 3})
    second = client.get(first.json()["next"])
    with django_assert_num_queries(6):
        client.get(api_url(tenant_a, "notifications/"), {"page_size": 7})

    assert _titles(first) == ["N6", "N5", "N4"]
    assert _titles(second) == ["N3", "N2", "N1"]


def test_another_users_item_is_not_found_and_stays_unread(
    tenant_a, agent_a, make_member, api_client
):
    theirs = _item(tenant_a, make_member(tenant_a), "Theirs")

    response = api_client(agent_a).post(api_url(tenant_a, f"notifications/{theirs.pk}/read/"))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert _read_at(theirs) is None


def test_another_tenants_item_is_not_found_even_when_it_is_the_callers_own(
    tenant_a, tenant_b, agent_a, api_client
):
    # Given the caller belongs to both tenants and has an item in B
    MembershipFactory(tenant=tenant_b, user=agent_a)
    in_b = _item(tenant_b, agent_a, "In B")

    # When they address it through A's URL
    response = api_client(agent_a).post(api_url(tenant_a, f"notifications/{in_b.pk}/read/"))

    # Then it does not exist there
    assert response.status_code == 404
    assert _read_at(in_b) is None


def test_read_all_leaves_other_users_and_tenants_alone(
    tenant_a, tenant_b, agent_a, make_member, api_client
):
    MembershipFactory(tenant=tenant_b, user=agent_a)
    colleague = _item(tenant_a, make_member(tenant_a), "Colleague")
    in_b = _item(tenant_b, agent_a, "In B")
    mine = _item(tenant_a, agent_a, "Mine")

    response = api_client(agent_a).post(api_url(tenant_a, "notifications/read-all/"))

    assert response.json() == {"marked_read": 1, "unread_count": 0}
    assert (_read_at(mine) is not None, _read_at(colleague), _read_at(in_b)) == (True, None, None)


def test_marking_read_twice_keeps_the_first_time(tenant_a, agent_a, api_client):
    item = _item(tenant_a, agent_a, "Once")
    client = api_client(agent_a)

    first = client.post(api_url(tenant_a, f"notifications/{item.pk}/read/")).json()["read_at"]
    second = client.post(api_url(tenant_a, f"notifications/{item.pk}/read/")).json()["read_at"]

    assert first == second is not None


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 401), ("non-member", 404), ("member of B", 404)]
)
def test_outsiders_get_nothing(who, status, tenant_a, tenant_b, make_member, api_client):
    user = {
        "anonymous": None,
        "non-member": make_member(tenant_b),
        "member of B": make_member(tenant_b, MembershipRole.TENANT_ADMIN),
    }[who]
    client = api_client(user)

    responses = [
        client.get(api_url(tenant_a, "notifications/")),
        client.post(api_url(tenant_a, "notifications/read-all/")),
        client.get(api_url(tenant_a, "notification-preferences/")),
    ]

    assert [response.status_code for response in responses] == [status] * 3


# --- Preferences -------------------------------------------------------------------------------


def _preferences(client, tenant) -> dict[tuple[str, str], tuple[bool, str]]:
    rows = client.get(api_url(tenant, "notification-preferences/")).json()["results"]
    return {
        (row["event_type"], row["channel"]): (row["enabled"], row["decided_by"])
        for row in rows
        if row["event_type"].startswith("test.")
    }


def test_preferences_list_every_event_type_and_channel_with_who_decided(
    tenant_a, agent_a, api_client
):
    client = api_client(agent_a)
    with rls.tenant_scope(tenant_a.pk):
        notification_preference_set(
            tenant=tenant_a, user=None, event_type=DIGEST, channel="in_app", enabled=True
        )

    chosen = client.post(
        api_url(tenant_a, "notification-preferences/"),
        {"event_type": PING, "channel": "email", "enabled": False},
    )

    assert chosen.json() == {
        "event_type": PING,
        "event_type_label": "Pings",
        "channel": "email",
        "enabled": False,
        "decided_by": "user",
    }
    assert _preferences(client, tenant_a) == {
        (DIGEST, "email"): (True, "default"),
        (DIGEST, "in_app"): (True, "tenant"),
        (PING, "email"): (False, "user"),
        (PING, "in_app"): (True, "default"),
    }


def test_a_preference_set_to_null_goes_back_to_the_default(tenant_a, agent_a, api_client):
    client = api_client(agent_a)
    url = api_url(tenant_a, "notification-preferences/")
    client.post(url, {"event_type": PING, "channel": "in_app", "enabled": False})

    response = client.post(url, {"event_type": PING, "channel": "in_app", "enabled": None})

    assert (response.json()["enabled"], response.json()["decided_by"]) == (True, "default")


def test_an_unknown_event_type_or_channel_is_a_400_naming_the_field(tenant_a, agent_a, api_client):
    response = api_client(agent_a).post(
        api_url(tenant_a, "notification-preferences/"),
        {"event_type": "nope", "channel": "pigeon", "enabled": True},
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "event_type": ["Unknown event type 'nope'."],
        "channel": ["Unknown channel 'pigeon'."],
    }
