"""Template helpers of the workspace shell."""

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SELECTED = mark_safe(" selected")


@register.simple_tag
def options(choices: Iterable[tuple[Any, Any]], selected: Any = None) -> SafeString:
    """`<option>`s of (value, label) pairs, the one equal to `selected` (as text) selected.

    One Python loop instead of a template loop: a filter bar lists hundreds of options and
    template loops cost tens of microseconds per lookup.
    """
    chosen = "" if selected is None else str(selected)
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, SELECTED if str(value) == chosen else "", label)
            for value, label in choices
        ),
    )
