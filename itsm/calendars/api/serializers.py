from rest_framework import serializers

from itsm.calendars.models import BusinessCalendar, Holiday, WorkingPeriod


class WorkingPeriodSerializer(serializers.ModelSerializer[WorkingPeriod]):
    class Meta:
        model = WorkingPeriod
        fields = ["weekday", "starts_at", "ends_at"]
        read_only_fields = fields


class HolidaySerializer(serializers.ModelSerializer[Holiday]):
    class Meta:
        model = Holiday
        fields = ["date", "name"]
        read_only_fields = fields


class BusinessCalendarReadSerializer(serializers.ModelSerializer[BusinessCalendar]):
    periods = WorkingPeriodSerializer(many=True, read_only=True)
    holidays = HolidaySerializer(many=True, read_only=True)

    class Meta:
        model = BusinessCalendar
        fields = ["slug", "name", "time_zone", "periods", "holidays"]
        read_only_fields = fields
