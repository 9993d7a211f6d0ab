"""itsm/bulk.py: a graph of new rows written in one statement, each child linked to its own
parent, values the INSERT computes read back."""

import datetime
import decimal
import json
import uuid

import pytest
from django.db import connection, models
from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone
from psycopg.types.json import Jsonb

from itsm import bulk
from itsm.bulk import bulk_create_graph
from itsm.notifications.choices import DeliveryStatus
from itsm.notifications.models import Delivery, Notification
from itsm.tenancy import rls
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _family(tenant, sizes: list[int]) -> tuple[list[Notification], list[Delivery]]:
    """Unsaved notifications with `sizes[i]` deliveries each, children listed out of order."""
    now = timezone.now()
    parents = [
        Notification(tenant=tenant, event_type="test.ping", title=f"n{index}", body="")
        for index in range(len(sizes))
    ]
    children = [
        Delivery(
            tenant=tenant,
            notification=parent,
            channel="email",
            address=f"{parent.title}-{number}@example.com",
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
        )
        for parent, size in zip(parents, sizes, strict=True)
        for number in range(size)
    ]
    return parents, children[::-1]


def _written(tenant) -> dict[str, list[str]]:
    """Each notification's title with its deliveries' addresses, as the database holds them."""
    written: dict[str, list[str]] = {}
    for notification in Notification.objects.for_tenant(tenant).order_by("title"):
        written[notification.title] = sorted(
            notification.deliveries.values_list("address", flat=True)
        )
    return written


def test_parents_and_children_are_one_statement_and_each_child_has_its_parent(
    django_assert_num_queries,
):
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        parents, children = _family(tenant, [2, 0, 3])

        with django_assert_num_queries(1):
            bulk_create_graph(parents, children)

        assert all(row.pk is not None and not row._state.adding for row in parents + children)
        assert all(child.notification_id == child.notification.pk for child in children)
        assert _written(tenant) == {
            "n0": ["n0-0@example.com", "n0-1@example.com"],
            "n1": [],
            "n2": ["n2-0@example.com", "n2-1@example.com", "n2-2@example.com"],
        }
        # The keys the instances hold are the rows'
        stored = dict(Delivery.objects.for_tenant(tenant).values_list("pk", "address"))
        assert {child.pk: child.address for child in children} == stored


def test_a_graph_past_the_row_limit_is_written_table_by_table(
    monkeypatch, django_assert_num_queries
):
    tenant = TenantFactory()
    # A limit below the graph's 13 rows
    monkeypatch.setattr(bulk, "MAX_ROWS", 12)
    with rls.tenant_scope(tenant.pk):
        parents, children = _family(tenant, [2, 2, 2, 0, 2])

        with django_assert_num_queries(2):
            bulk_create_graph(parents, children)

        written = _written(tenant)
    assert written == {
        f"n{index}": [f"n{index}-{number}@example.com" for number in range(size)]
        for index, size in enumerate([2, 2, 2, 0, 2])
    }
    assert len({parent.pk for parent in parents}) == 5


def test_a_value_the_insert_computes_is_read_back_with_the_key(django_assert_num_queries):
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        parents, children = _family(tenant, [1, 1])
        parents[1].title = Concat(Value("computed-"), Value("by the database"))

        with django_assert_num_queries(1):
            bulk_create_graph(parents, children)

        assert [parent.title for parent in parents] == ["n0", "computed-by the database"]
        stored = Notification.objects.for_tenant(tenant).get(pk=parents[1].pk)
        assert stored.title == "computed-by the database"


def test_a_child_linked_to_a_parent_outside_the_graph_is_refused():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        parents, children = _family(tenant, [1, 1])
        stray = Notification(tenant=tenant, event_type="test.ping", title="stray", body="")
        children[-1].notification = stray  # the first child links the group to the graph

        with pytest.raises(ValueError, match="not linked into the graph"):
            bulk_create_graph(parents, children)
        assert not Notification.objects.for_tenant(tenant).exists()


def test_postgresql_reads_each_value_back_as_it_was_given():
    """The rows travel as JSON: every kind of value a field prepares comes back as its column's
    type, equal to what was given."""
    given = {
        "moment": (timezone.now(), "timestamp with time zone"),
        "day": (datetime.date(2026, 12, 6), "date"),
        "span": (datetime.timedelta(days=3, seconds=7201, microseconds=5), "interval"),
        "amount": (decimal.Decimal("12.50"), "numeric(10, 2)"),
        "key": (uuid.uuid4(), "uuid"),
        "ratio": (0.25, "double precision"),
        "unbounded": (float("inf"), "double precision"),
        "numbers": ([1, 2, 3], "integer[]"),
        "document": (Jsonb({"a": [1, "two"], "b": None}), "jsonb"),
        "text": ('it\'s "quoted" \\ and ünïcode', "text"),
        "nothing": (None, "bigint"),
    }
    row = {name: bulk._json_value(value) for name, (value, _type) in given.items()}
    columns = ", ".join(f"{name} {sql_type}" for name, (_value, sql_type) in given.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v({columns})",  # noqa: S608
            [json.dumps([row])],
        )
        [read] = cursor.fetchall()
    read = dict(zip(given, read, strict=True))
    read["document"] = json.loads(read["document"])  # Django's connections read jsonb as text
    assert read == {
        name: value.obj if isinstance(value, Jsonb) else value
        for name, (value, _type) in given.items()
    }


def test_a_value_json_does_not_carry_is_refused_for_the_fallback():
    with pytest.raises(bulk._NotJsonError):
        bulk._json_value(b"bytes")


class _ShoutingField(models.CharField[str, str]):
    """A field of an app's own that converts its values."""

    def get_prep_value(self, value):
        return None if value is None else str(value).upper()


def test_only_the_values_django_leaves_unchanged_skip_its_conversions():
    """A value of a type the field's conversions return unchanged goes into the JSON as it is;
    anything else (another type, a field with a conversion of its own) goes through Django."""
    none = type(None)

    assert bulk._written_as_is(models.CharField(max_length=9)) == {str, none}
    assert bulk._written_as_is(models.PositiveIntegerField()) == {int, none}
    assert bulk._written_as_is(models.DateTimeField()) == {none}
    assert bulk._written_as_is(Delivery._meta.get_field("notification")) == {int, none}
    assert bulk._written_as_is(models.DurationField()) == frozenset()
    assert bulk._written_as_is(models.JSONField()) == frozenset()
    assert bulk._written_as_is(_ShoutingField(max_length=9)) == frozenset()
