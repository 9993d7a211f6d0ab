"""Platform administration of business calendars."""

from django.contrib import admin

from itsm.admin_site import TenantConfigAdmin
from itsm.calendars.models import BusinessCalendar, Holiday, WorkingPeriod


class WorkingPeriodInline(admin.TabularInline[WorkingPeriod, BusinessCalendar]):
    model = WorkingPeriod
    fields = ["weekday", "starts_at", "ends_at"]
    extra = 0


class HolidayInline(admin.TabularInline[Holiday, BusinessCalendar]):
    model = Holiday
    fields = ["date", "name"]
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TenantConfigAdmin):
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
