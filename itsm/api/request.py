"""Typing for requests that have passed the tenant checks."""

from django.contrib.auth.models import User
from rest_framework.request import Request

from itsm.tenancy.models import Membership, Tenant


class TenantRequest(Request):
    """A request inside a tenant: authenticated, with an active membership."""

    user: User
    tenant: Tenant
    membership: Membership
