"""A member a request names is read with their role and teams: the role questions the services
ask of them after need no query."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from itsm.api.fields import TenantMemberField
from itsm.tenancy import rls
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import MembershipRole
from tests.factories import (
    MembershipFactory,
    TeamFactory,
    TeamMemberFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_a_named_member_comes_with_their_role_and_teams_in_one_query():
    tenant = TenantFactory()
    user = UserFactory(username="leo")
    with rls.tenant_scope(tenant.pk):
        MembershipFactory(tenant=tenant, user=user, role=MembershipRole.AGENT)
        theirs, other = TeamFactory(tenant=tenant), TeamFactory(tenant=tenant)
        TeamMemberFactory(tenant=tenant, team=theirs, user=user)

        with CaptureQueriesContext(connection) as queries:
            member = tenancy.member_by_username(tenant=tenant, username="leo")
            assert member is not None
            assert member.pk == user.pk
            assert tenancy.member_role(tenant=tenant, user=member) == MembershipRole.AGENT
            assert tenancy.is_team_member(tenant=tenant, team_id=theirs.pk, user=member)
            assert not tenancy.is_team_member(tenant=tenant, team_id=other.pk, user=member)
        assert len(queries) == 1


def test_what_is_known_of_a_member_answers_only_for_their_tenant():
    tenant, elsewhere = TenantFactory(), TenantFactory()
    user = UserFactory(username="ida")
    with rls.tenant_scope(elsewhere.pk):
        MembershipFactory(tenant=elsewhere, user=user, role=MembershipRole.TENANT_ADMIN)
        team = TeamFactory(tenant=elsewhere)
        TeamMemberFactory(tenant=elsewhere, team=team, user=user)
    with rls.tenant_scope(tenant.pk):
        MembershipFactory(tenant=tenant, user=user, role=MembershipRole.REQUESTER)
        member = tenancy.member_by_username(tenant=tenant, username="ida")
    assert member is not None
    with rls.tenant_scope(elsewhere.pk):
        # Asked of the other tenant, the answers are read there.
        with CaptureQueriesContext(connection) as queries:
            role = tenancy.member_role(tenant=elsewhere, user=member)
            in_team = tenancy.is_team_member(tenant=elsewhere, team_id=team.pk, user=member)
        assert (role, in_team) == (MembershipRole.TENANT_ADMIN, True)
        assert len(queries) == 2


def test_an_inactive_member_another_tenants_or_nobody_is_none():
    tenant, elsewhere = TenantFactory(), TenantFactory()
    with rls.tenant_scope(tenant.pk):
        MembershipFactory(tenant=tenant, user=UserFactory(username="gone"), is_active=False)
    with rls.tenant_scope(elsewhere.pk):
        MembershipFactory(tenant=elsewhere, user=UserFactory(username="theirs"))
    with rls.tenant_scope(tenant.pk):
        for username in ("gone", "theirs", "nobody"):
            assert tenancy.member_by_username(tenant=tenant, username=username) is None


def test_the_member_field_takes_a_username_as_text_or_the_number_it_spells():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        member = MembershipFactory(tenant=tenant, user=UserFactory(username="1042")).user
        field = TenantMemberField()
        # The request's tenant is all the field asks of its context.
        field.bind(
            "assignee", serializers.Serializer(context={"request": SimpleNamespace(tenant=tenant)})
        )

        assert field.to_internal_value("1042").pk == member.pk
        assert field.to_internal_value(1042).pk == member.pk
        for wrong in (["1042"], True, None):
            with pytest.raises(serializers.ValidationError):
                field.to_internal_value(wrong)
        with pytest.raises(serializers.ValidationError, match="does not exist"):
            field.to_internal_value("nobody")
