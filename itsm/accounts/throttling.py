"""Login throttling glue for django-axes: who the client is, and what a locked-out client sees.

Axes counts failed log-ins per (username, client address) and refuses that pair, right password
or not, until the cool-off has passed (settings `AXES_*`, docs/security.md). Two things it
leaves to the project are here:

- `client_ip_address`: the address a failure is counted against. Only a proxy the deployment
  declared may name the client; anyone else's X-Forwarded-For is ignored, so an attacker cannot
  dodge the lock, or lock someone else out, by inventing addresses.
- `lockout_response`: the answer to a locked-out log-in on a page (the styled lockout page) or
  under /api/ (the API's JSON error shape), both 429 with Retry-After.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT_CODE = "locked_out"

type _Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address: the connection's, or the one a trusted proxy vouches for.

    When the connection comes from an address in `settings.TRUSTED_PROXY_IPS` (empty unless the
    project runs behind a proxy), X-Forwarded-For is read from the right, skipping trusted
    proxies; the first other address is the client. Entries further left are whatever the
    client sent and are never believed. With `*` every peer is a proxy and only the entry it
    appended (the rightmost) counts. A missing or malformed entry leaves the connection's
    address.
    """
    remote = _valid_address(request.META.get("REMOTE_ADDR", ""))
    trusted = _trusted_networks(tuple(settings.TRUSTED_PROXY_IPS))
    trust_any = "*" in settings.TRUSTED_PROXY_IPS
    if remote is None or not (trust_any or _is_in(remote, trusted)):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for entry in reversed(forwarded):
        address = _valid_address(entry)
        if address is None:
            return remote
        if trust_any or not _is_in(address, trusted):
            return address
    return remote


def login_succeeded(request: HttpRequest, *, username: str) -> None:
    """Forget the failures of this username from this client (AXES_RESET_ON_SUCCESS).

    For log-ins that open no session, such as issuing an API token: they send no
    `user_logged_in`, the signal on which axes resets the count for web log-ins.
    """
    AxesProxyHandler.reset_attempts(ip_address=get_client_ip_address(request), username=username)


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = max(1, round(lockout_retry_after(request) / 60))
    return (
        "Too many failed log-in attempts for this username from your address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """Axes' answer to a locked-out log-in (AXES_LOCKOUT_CALLABLE): 429 and Retry-After.

    A failure during the lock starts the cool-off again, so the wait is the whole cool-off.
    """
    message = lockout_message(request)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": LOCKED_OUT_CODE, "message": message, "fields": {}}, status=429
        )
    else:
        response = render(request, "accounts/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(lockout_retry_after(request))
    return response


def lockout_retry_after(request: HttpRequest | None = None) -> int:
    """Seconds until a locked-out client may try again."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def _valid_address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _is_in(address: str, networks: tuple[_Network, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in entries
        if entry.strip() and entry.strip() != "*"
    )
