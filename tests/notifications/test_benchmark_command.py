"""The benchmark command keeps working (its figures are reported in docs, never asserted)."""

from io import StringIO

import pytest
from django.core.management import call_command

from itsm.notifications import registry


@pytest.mark.django_db
def test_benchmark_command_delivers_a_few_notifications_through_smtp(monkeypatch):
    monkeypatch.setattr(registry, "_event_types", dict(registry._event_types))
    out = StringIO()

    call_command("benchmark_notifications", notifications=12, users=3, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "postgresql: 12 notifications, 1 user each"
    assert lines[1].startswith("published: 12 in ")
    assert lines[2].startswith("delivered: 12 e-mails (+12 in-app items written on publish) in ")
    assert lines[3] == "e-mail deliveries recorded delivered: 12"
