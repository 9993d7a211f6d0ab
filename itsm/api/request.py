"""Typing for requests that have passed the tenant checks."""

from django.contrib.auth.models import User
from rest_framework.request import Request

from itsm.tenancy.models import Membership, Tenant

# Set on a request before it is authenticated: the slug of the tenant it will enter, so that
# the API token's read enters it in the same statement (itsm/accounts/api/authentication.py).
TENANT_TO_ENTER = "tenant_to_enter"


class TenantRequest(Request):
    """A request inside a tenant: authenticated, with an active membership."""

    user: User
    tenant: Tenant
    membership: Membership
