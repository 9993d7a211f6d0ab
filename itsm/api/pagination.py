"""Keyset (cursor) pagination: cost does not grow with the page number or the tenant's size."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Views order by their own `ordering`; the pagination needs a fallback for the schema.
    ordering = "-created_at"
