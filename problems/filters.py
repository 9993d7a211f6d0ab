from django.db.models import QuerySet
from django_filters import rest_framework as filters

from incidents.choices import Priority
from itsm.catalog.models import Category, Service
from itsm.filters import tenant_queryset
from itsm.tenancy.models import MAX_NUMBER, Team, parse_reference
from problems.choices import KnownErrorStatus, ProblemStatus, SuggestionStatus
from problems.models import KnownError, Problem, ProblemSuggestion


class ProblemFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ProblemStatus.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    # One link row per (problem, service): filtering by one service repeats no problem.
    service = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Service),
        to_field_name="slug",
        field_name="service_links__service",
        distinct=False,
    )
    category = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Category), to_field_name="slug", field_name="category"
    )
    team = filters.ModelChoiceFilter(
        queryset=tenant_queryset(Team), to_field_name="slug", field_name="assignment_team"
    )
    manager = filters.CharFilter(field_name="problem_manager__username")

    class Meta:
        model = Problem
        fields = ["status", "priority", "service", "category", "team", "manager"]


class KnownErrorFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=KnownErrorStatus.choices, distinct=False)
    problem = filters.CharFilter(method="filter_problem", label="Problem reference (PRB-…)")

    class Meta:
        model = KnownError
        fields = ["status", "problem"]

    def filter_problem(
        self, queryset: QuerySet[KnownError], name: str, value: str
    ) -> QuerySet[KnownError]:
        number = parse_reference(Problem.NUMBER_PREFIX, value)
        if number is None or number > MAX_NUMBER:
            return queryset.none()
        return queryset.filter(problem__number=number)


class SuggestionFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=SuggestionStatus.choices, distinct=False)

    class Meta:
        model = ProblemSuggestion
        fields = ["status"]
