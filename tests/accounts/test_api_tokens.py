"""API tokens: issued once, stored hashed, expiring, listed and revoked by their owner only."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessFailureLog, AccessLog
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from itsm.accounts.services import api_token_issue, credentials_purge_expired
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
ME_URL = "/api/v1/me/"
INVALID_TOKEN = {"code": "authentication_failed", "message": "Invalid token.", "fields": {}}


def _obtain(username: str = "pat") -> dict[str, Any]:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": PASSWORD})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def pat() -> Any:
    return UserFactory(username="pat")


@pytest.fixture
def sam() -> Any:
    return UserFactory(username="sam")


def test_the_token_is_returned_once_with_its_prefix_and_expiry(pat: Any) -> None:
    body = _obtain()

    token = AuthToken.objects.get()
    assert sorted(body) == ["created", "expiry", "prefix", "token"]
    assert len(body["token"]) == 64
    assert body["prefix"] == body["token"][:15] == token.token_key
    # The default lifetime is 30 days (API_TOKEN_TTL_DAYS)
    assert round((token.expiry - token.created).total_seconds()) == 30 * 24 * 3600
    assert _with(body["token"]).get(ME_URL).json()["username"] == "pat"


def test_the_database_holds_no_plain_token(pat: Any) -> None:
    # Given a token just issued
    key = _obtain()["token"]

    # When every column of every token row is read
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        rows = cursor.fetchall()

    # Then the key is in none of them: only its SHA-512 digest and its first 15 characters are
    assert len(rows) == 1
    assert not any(key in str(value) for value in rows[0])
    assert AuthToken.objects.get().digest == hashlib.sha512(key.encode()).hexdigest()


def test_an_expired_token_is_refused_with_401(pat: Any) -> None:
    # Given a token whose expiry has passed
    key = _obtain()["token"]
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))

    response = _with(key).get(ME_URL)

    # Then it is refused, in the API's error shape, and deleted
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    assert response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.exists()


def test_a_revoked_token_is_refused(pat: Any) -> None:
    # Given two tokens of pat, one of which pat revokes
    kept, revoked = _obtain(), _obtain()
    response = _with(kept["token"]).delete(f"{TOKENS_URL}{revoked['prefix']}/")

    # Then the revoked one no longer works, the other still does
    assert response.status_code == 204
    assert (
        _with(revoked["token"]).get(ME_URL).json(),
        _with(kept["token"]).get(ME_URL).status_code,
    ) == (
        INVALID_TOKEN,
        200,
    )


def test_the_list_shows_the_callers_live_tokens_without_their_keys(pat: Any, sam: Any) -> None:
    # Given two live tokens of pat, one expired, and one of sam
    first, second = _obtain(), _obtain()
    expired = api_token_issue(user=pat).token
    AuthToken.objects.filter(digest=expired.digest).update(expiry=timezone.now())
    _obtain("sam")

    response = _with(second["token"]).get(TOKENS_URL)

    # Then pat sees their two live tokens, newest first, marked which one is in use, no keys
    assert response.status_code == 200
    assert response.json() == [
        {
            "prefix": second["prefix"],
            "created": second["created"],
            "expiry": second["expiry"],
            "current": True,
        },
        {
            "prefix": first["prefix"],
            "created": first["created"],
            "expiry": first["expiry"],
            "current": False,
        },
    ]
    assert first["token"] not in response.content.decode()


def test_a_user_cannot_revoke_another_users_token(pat: Any, sam: Any) -> None:
    # Given a token of sam
    sams = _obtain("sam")

    # When pat tries to revoke it by its prefix
    response = _with(_obtain()["token"]).delete(f"{TOKENS_URL}{sams['prefix']}/")

    # Then it is absent for pat, and still works for sam
    assert (response.status_code, response.json()) == (
        404,
        {"code": "not_found", "message": "No such token.", "fields": {}},
    )
    assert _with(sams["token"]).get(ME_URL).status_code == 200


def test_revoke_all_logs_the_user_out_everywhere_and_no_one_else(pat: Any, sam: Any) -> None:
    one, two, sams = _obtain(), _obtain(), _obtain("sam")

    response = _with(one["token"]).post(f"{TOKENS_URL}revoke-all/")

    assert response.status_code == 204
    assert [_with(t["token"]).get(ME_URL).status_code for t in (one, two, sams)] == [401, 401, 200]


def test_the_token_list_needs_authentication() -> None:
    response = APIClient().get(TOKENS_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_session_user_manages_their_tokens_too(pat: Any) -> None:
    token = _obtain()
    client = APIClient()
    client.force_login(pat)

    listed = client.get(TOKENS_URL)
    revoked = client.delete(f"{TOKENS_URL}{token['prefix']}/")

    assert [row["current"] for row in listed.json()] == [False]
    assert (revoked.status_code, AuthToken.objects.exists()) == (204, False)


@pytest.mark.parametrize(
    "header",
    ["Token caf\u00e9", "Token abc\x00def", "Token " + "a" * 129, "Token", "Token a b"],
    ids=["not-utf-8", "nul", "too-long", "no-key", "spaces"],
)
def test_a_malformed_token_is_a_401_not_a_500(pat: Any, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_user_holds_at_most_the_limit_of_live_tokens(pat: Any, settings: Any) -> None:
    # Given the limit (API_TOKEN_LIMIT_PER_USER) of live tokens
    for _ in range(settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]):
        api_token_issue(user=pat)

    response = APIClient().post(TOKEN_URL, {"username": "pat", "password": PASSWORD})

    assert (response.status_code, response.json()["code"]) == (409, "too_many_tokens")
    assert AuthToken.objects.count() == settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]


def test_the_purge_deletes_expired_tokens_and_old_log_in_records(pat: Any) -> None:
    # Given a live and an expired token, and log-in records from long ago and from now
    live = api_token_issue(user=pat).token
    api_token_issue(user=pat)
    AuthToken.objects.exclude(digest=live.digest).update(expiry=timezone.now())
    for _ in range(2):
        AccessLog.objects.create(username="pat", user_agent="", path_info="/")
    AccessFailureLog.objects.create(username="pat", user_agent="", path_info="/", locked_out=False)
    # (attempt_time is set on insert: age the records afterwards)
    long_ago = timezone.now() - timedelta(days=91)
    AccessLog.objects.filter(pk=AccessLog.objects.earliest("pk").pk).update(attempt_time=long_ago)
    AccessFailureLog.objects.update(attempt_time=long_ago)

    purged = credentials_purge_expired()

    assert purged == {"api_tokens": 1, "login_logs": 1, "login_failure_logs": 1}
    assert list(AuthToken.objects.values_list("digest", flat=True)) == [live.digest]
    assert AccessLog.objects.count() == 1
