"""The problem timeline is immutable, in the application and in the database."""

import pytest
from django.db import DatabaseError, connection, transaction

from itsm.tenancy import rls
from problems.models import ProblemEvent
from tests.problems.conftest import make_problem

pytestmark = pytest.mark.django_db


def test_a_problem_event_cannot_be_changed_or_deleted(pdesk):
    problem = make_problem(pdesk)
    with rls.tenant_scope(pdesk.tenant.pk):
        event = ProblemEvent.objects.get(problem=problem)
        with pytest.raises(TypeError):
            event.save()
        with pytest.raises(TypeError):
            event.delete()
        with pytest.raises(TypeError):
            ProblemEvent.objects.filter(pk=event.pk).update(body="rewritten")
        # and raw SQL meets the trigger
        for statement in (
            "UPDATE problems_problemevent SET body = 'rewritten' WHERE id = %s",
            "DELETE FROM problems_problemevent WHERE id = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="immutable"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, [event.pk])
        assert ProblemEvent.objects.get(pk=event.pk).body == ""
