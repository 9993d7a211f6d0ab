"""Timers in admin: read-only, for platform staff to see what is scheduled and what fired."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from itsm.timers.models import Timer, TimerFiring


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "kind", "step", "fire_at", "updated_at"]
    list_filter = ["kind", "tenant"]
    list_select_related = ["tenant"]


@admin.register(TimerFiring)
class TimerFiringAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "timer", "step", "due_at", "fired_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant", "timer"]
    raw_id_fields = ["timer"]
