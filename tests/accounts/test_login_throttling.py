"""Login throttling on all three doors: the API token endpoint, the web log-in, the admin log-in.

Failures count per username *and* client address. After LOGIN_FAILURE_LIMIT of them that pair
is locked out, the right password included, until the cool-off has passed; other users and
other addresses are not affected; a successful log-in clears the count. Time passing is the
recorded attempts growing older than the cool-off (what axes compares against).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import F
from django.test import Client, RequestFactory
from knox.models import AuthToken
from rest_framework.test import APIClient

from itsm.accounts.throttling import client_ip_address
from tests.factories import PASSWORD, UserFactory
from tests.markers import platform_db

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF = settings.AXES_COOLOFF_TIME
ATTACKER_IP = "203.0.113.7"
OTHER_IP = "198.51.100.20"
MESSAGE = (
    "Too many failed log-in attempts for this username from your address. "
    f"Try again in {round(COOL_OFF.total_seconds() / 60)} minutes."
)


@dataclass(frozen=True)
class Door:
    """One way in: how to try a password, and what a success or a refusal looks like."""

    name: str
    path: str
    success_status: int
    wrong_password_status: int

    def client(self) -> Any:
        return APIClient() if self.name == "api" else Client()

    def attempt(self, client: Any, username: str, password: str, ip: str = ATTACKER_IP) -> Any:
        data = {"username": username, "password": password}
        if self.name == "api":
            return client.post(self.path, data, format="json", REMOTE_ADDR=ip)
        return client.post(self.path, data, REMOTE_ADDR=ip)

    def signed_in(self, client: Any, user: Any) -> bool:
        """Whether the door let the user in: a token issued, or a session opened."""
        if self.name == "api":
            return bool(AuthToken.objects.filter(user=user).exists())
        return bool(client.session.get("_auth_user_id") == str(user.pk))


DOORS = [
    Door("api", "/api/v1/auth/token/", success_status=200, wrong_password_status=400),
    Door("web", "/accounts/login/", success_status=302, wrong_password_status=200),
    Door("admin", "/admin/login/", success_status=302, wrong_password_status=200),
]
by_door = pytest.mark.parametrize("door", DOORS, ids=[door.name for door in DOORS])


@pytest.fixture
def pat() -> Any:
    # Staff, so that the right password opens the admin too.
    return UserFactory(username="pat", is_staff=True, is_superuser=True)


def _fail(door: Door, client: Any, times: int, username: str = "pat", ip: str = ATTACKER_IP):
    return [door.attempt(client, username, "wrong-password", ip).status_code for _ in range(times)]


def _cool_off_passes() -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - COOL_OFF)


def _assert_locked_out(door: Door, response: Any) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(int(COOL_OFF.total_seconds()))
    if door.name == "api":
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"code": "locked_out", "message": MESSAGE, "fields": {}}
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "<h1>Log-in locked</h1>" in response.content.decode()
        assert MESSAGE in response.content.decode()


@by_door
def test_the_right_password_is_refused_during_the_lockout(door: Door, pat: Any) -> None:
    # Given LIMIT wrong passwords for pat from one address
    client = door.client()
    statuses = _fail(door, client, LIMIT)

    # When the right password follows from the same address
    response = door.attempt(client, "pat", PASSWORD)

    # Then the last failure already locked the pair, and the right password is refused too:
    # no token was issued, no session opened
    assert statuses == [door.wrong_password_status] * (LIMIT - 1) + [429]
    _assert_locked_out(door, response)
    assert not door.signed_in(client, pat)
    assert AuthToken.objects.count() == 0


@by_door
def test_the_lockout_is_recorded(door: Door, pat: Any) -> None:
    client = door.client()
    _fail(door, client, LIMIT)
    door.attempt(client, "pat", PASSWORD)

    # The attempt row counts every refusal; the failure log says which ones the lock refused
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.path_info) == (
        "pat",
        ATTACKER_IP,
        door.path,
    )
    assert attempt.failures_since_start == LIMIT + 1
    assert list(
        AccessFailureLog.objects.order_by("attempt_time", "id").values_list("locked_out", flat=True)
    ) == [False] * (LIMIT - 1) + [True, True]
    assert not AccessLog.objects.exists()


@by_door
def test_the_cool_off_ends_the_lockout(door: Door, pat: Any) -> None:
    # Given a locked-out pair
    client = door.client()
    _fail(door, client, LIMIT)
    assert door.attempt(client, "pat", PASSWORD).status_code == 429

    # When the cool-off has passed since the last attempt
    _cool_off_passes()
    response = door.attempt(client, "pat", PASSWORD)

    # Then the right password works again, and the count starts afresh
    assert response.status_code == door.success_status
    assert door.signed_in(client, pat)
    assert not AccessAttempt.objects.exists()


@by_door
def test_other_users_and_other_addresses_are_not_affected(door: Door, pat: Any) -> None:
    # Given pat locked out from the attacker's address
    UserFactory(username="sam", is_staff=True, is_superuser=True)
    _fail(door, door.client(), LIMIT)

    # When sam logs in from the same address (a shared NAT), and pat from another address
    sam_client, pat_elsewhere = door.client(), door.client()
    sam = door.attempt(sam_client, "sam", PASSWORD, ip=ATTACKER_IP)
    pat_ok = door.attempt(pat_elsewhere, "pat", PASSWORD, ip=OTHER_IP)

    # Then both get in
    assert (sam.status_code, pat_ok.status_code) == (door.success_status, door.success_status)


@by_door
def test_a_successful_log_in_clears_the_failures_of_that_username_and_address(
    door: Door, pat: Any
) -> None:
    # Given LIMIT - 1 failures, then the right password
    client = door.client()
    _fail(door, client, LIMIT - 1)
    assert door.attempt(door.client(), "pat", PASSWORD).status_code == door.success_status

    # When LIMIT - 1 more failures follow
    statuses = _fail(door, client, LIMIT - 1)

    # Then none of them is a lockout: the count started again at the success
    assert statuses == [door.wrong_password_status] * (LIMIT - 1)
    assert door.attempt(door.client(), "pat", PASSWORD).status_code == door.success_status


def test_a_made_up_forwarded_for_header_does_not_dodge_the_lockout(pat: Any) -> None:
    # Given no proxy declared, an attacker who sends a new X-Forwarded-For with each guess
    client = APIClient()
    for n in range(LIMIT):
        client.post(
            DOORS[0].path,
            {"username": "pat", "password": "wrong"},
            format="json",
            REMOTE_ADDR=ATTACKER_IP,
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )

    # Then every guess counted against the connection's address, and the pair is locked
    response = client.post(
        DOORS[0].path,
        {"username": "pat", "password": PASSWORD},
        format="json",
        REMOTE_ADDR=ATTACKER_IP,
        HTTP_X_FORWARDED_FOR="10.0.0.99",
    )
    assert response.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ATTACKER_IP]


def test_behind_the_declared_proxy_the_client_is_the_address_the_proxy_appended(
    pat: Any, settings: Any
) -> None:
    # Given the proxy at 10.1.1.1, and a client behind it that locked itself out
    settings.TRUSTED_PROXY_IPS = ["10.1.1.1"]
    client = APIClient()

    def attempt(password: str, forwarded_for: str) -> int:
        return int(
            client.post(
                DOORS[0].path,
                {"username": "pat", "password": password},
                format="json",
                REMOTE_ADDR="10.1.1.1",
                HTTP_X_FORWARDED_FOR=forwarded_for,
            ).status_code
        )

    # (what the client wrote itself, left of the proxy's entry, changes nothing)
    statuses = [attempt("wrong", f"1.2.3.{n}, {ATTACKER_IP}") for n in range(LIMIT)]

    # When another client comes through the same proxy
    other = attempt(PASSWORD, OTHER_IP)

    # Then the lock is on the first client's address only, not on the proxy's
    assert statuses[-1] == 429
    assert attempt(PASSWORD, ATTACKER_IP) == 429
    assert other == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER_IP}


ADDRESS_CASES = [
    # (trusted proxies, REMOTE_ADDR, X-Forwarded-For, client)
    ([], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
    (["10.1.1.1"], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
    (["10.1.1.1"], "10.1.1.1", "", "10.1.1.1"),
    (["10.1.1.1"], "10.1.1.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
    (["10.0.0.0/8"], "10.1.1.1", "198.51.100.1, 10.2.2.2", "198.51.100.1"),
    (["10.1.1.1"], "10.1.1.1", "6.6.6.6, not-an-address", "10.1.1.1"),
    (["*"], "10.1.1.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
    (["10.1.1.1"], "10.1.1.1", "2001:db8::1", "2001:db8::1"),
    ([], "", "", None),
]


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "expected"), ADDRESS_CASES)
def test_client_address(
    settings: Any, trusted: list[str], remote: str, forwarded: str, expected: str | None
) -> None:
    settings.TRUSTED_PROXY_IPS = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip_address(request) == expected


# --- Admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Callable[[], Client]:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return lambda: client


@platform_db
def test_platform_admins_see_the_attempts_and_failures_read_only(
    pat: Any, admin_client: Callable[[], Client]
) -> None:
    # Given a lockout
    door = DOORS[1]
    _fail(door, door.client(), LIMIT)
    attempt = AccessAttempt.objects.get()
    client = admin_client()

    # When a platform admin looks
    attempts = client.get("/admin/axes/accessattempt/")
    failures = client.get("/admin/axes/accessfailurelog/")
    detail = client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/")
    edit = client.post(f"/admin/axes/accessattempt/{attempt.pk}/change/", {"username": "x"})
    add = client.get("/admin/axes/accessfailurelog/add/")

    # Then they see them, and may not add or edit a row
    assert (attempts.status_code, failures.status_code, detail.status_code) == (200, 200, 200)
    assert "pat" in attempts.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert (edit.status_code, add.status_code) == (403, 403)
    assert AccessAttempt.objects.get().username == "pat"


@platform_db
def test_a_platform_admin_lifts_a_lockout_by_deleting_the_attempt(
    pat: Any, admin_client: Callable[[], Client]
) -> None:
    door = DOORS[0]
    _fail(door, door.client(), LIMIT)
    attempt = AccessAttempt.objects.get()

    response = admin_client().post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert door.attempt(door.client(), "pat", PASSWORD).status_code == 200
