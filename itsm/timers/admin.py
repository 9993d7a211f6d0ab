"""Timers in admin: read-only, for platform staff to see what is scheduled and what fired."""

from django.contrib import admin

from itsm.admin_site import ReadOnlyAdminMixin
from itsm.timers.models import Timer, TimerFiring


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Timer]):
    list_display = ["id", "tenant", "kind", "step", "fire_at", "updated_at"]
    list_filter = ["kind", "tenant"]
    list_select_related = ["tenant"]


@admin.register(TimerFiring)
class TimerFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TimerFiring]):
    list_display = ["id", "tenant", "timer", "step", "due_at", "fired_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant", "timer"]
    raw_id_fields = ["timer"]
