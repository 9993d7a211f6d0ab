"""Administration of business calendars, with their working hours and holidays."""

from django.contrib import admin

from itsm.admin_site import EDIT, TenantConfigAdmin, TenantScopedInline
from itsm.calendars.models import BusinessCalendar, Holiday, WorkingPeriod


class WorkingPeriodInline(TenantScopedInline[WorkingPeriod, BusinessCalendar]):
    tenant_admin_access = EDIT
    model = WorkingPeriod
    fields = ["weekday", "starts_at", "ends_at"]
    extra = 0


class HolidayInline(TenantScopedInline[Holiday, BusinessCalendar]):
    tenant_admin_access = EDIT
    model = Holiday
    fields = ["date", "name"]
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TenantConfigAdmin):
    tenant_admin_access = EDIT
    list_display = ["name", "tenant", "time_zone"]
    search_fields = ["name", "slug"]
    inlines = [WorkingPeriodInline, HolidayInline]

    def save_formset(self, request: object, form: object, formset: object, change: bool) -> None:
        # Inline rows belong to the calendar's tenant.
        instances = formset.save(commit=False)  # type: ignore[attr-defined]
        for instance in instances:
            instance.tenant_id = formset.instance.tenant_id  # type: ignore[attr-defined]
            instance.full_clean()
            instance.save()
        for removed in formset.deleted_objects:  # type: ignore[attr-defined]
            removed.delete()
