"""Template helpers of the workspace shell."""

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
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
        ((value, SELECTED if str(value) == chosen else "", label) for value, label in choices),
    )


@register.simple_tag
def select_field(
    name: str, label: str, choices: Iterable[tuple[Any, Any]], selected: Any, empty: str = "Any"
) -> SafeString:
    """A labelled `<select>` of a filter bar (`empty` is the choice that filters nothing)."""
    return format_html(
        '<div class="field"><label for="f-{name}">{label}</label>'
        '<select id="f-{name}" name="{name}">{empty}{options}</select></div>',
        name=name,
        label=label,
        empty=format_html('<option value="">{}</option>', empty) if empty else "",
        options=options(choices, selected),
    )
