"""The audit trail's tables: the base of every `<Model>Audit` event table, and the feed.

Each audited model has its own event table (see tracking.py), written only by database
triggers. `AuditEvent` is a read-only view over all of them (`audit_event`, rebuilt after every
migrate from the models under audit), so that a tenant's whole trail is one query that filters,
orders and pages like any table: PostgreSQL runs it as a merge of each table's
(tenant, time) index.
"""

from __future__ import annotations

from typing import Any

import pghistory.models
from django.db import models


class AuditEventBase(pghistory.models.Event):
    """An audit event: pghistory's snapshot and label, plus the changed fields.

    `pgh_diff` is `{column: [old, new]}` for the columns the statement changed (an insert has
    old = null, a delete new = null); `pgh_context` says who or what made the change.
    """

    # pghistory's default is a 32-bit serial; a busy table can outgrow it.
    pgh_id = models.BigAutoField(primary_key=True)
    pgh_diff = models.JSONField(null=True, editable=False)

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """One audit event of any audited model (the `audit_event` view; read-only).

    The tenant column is `event_tenant_id`, not `tenant_id`: a view takes no policy of its own.
    It is created with `security_invoker`, so each event table's row-level security applies to
    whoever reads it.
    """

    id = models.TextField(primary_key=True)  # "<app>.<model>:<event id>"
    tenant = models.ForeignKey(
        "tenancy.Tenant",
        on_delete=models.DO_NOTHING,
        db_column="event_tenant_id",
        db_constraint=False,
        related_name="+",
    )
    model = models.CharField(max_length=100)  # the audited model's label: incidents.incident
    object_id = models.BigIntegerField()
    # INC-000042 where the model has such numbers; NULL (not "") where it has none.
    object_ref = models.CharField(max_length=32, null=True)  # noqa: DJ001
    action = models.CharField(max_length=16)  # insert, update, delete
    created_at = models.DateTimeField()
    changes = models.JSONField(null=True)
    context = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "audit_event"
        ordering = ["-created_at"]
        verbose_name = "audit event"

    def __str__(self) -> str:
        return f"{self.model} {self.object_ref or self.object_id} {self.action}"

    @property
    def actor(self) -> dict[str, Any]:
        return dict(self.context or {})
