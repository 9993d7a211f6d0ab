from django import template

register = template.Library()


@register.filter
def label_of(labels: dict[int, str], priority: int) -> str:
    """The tenant's label for a priority level."""
    return labels.get(priority, f"SEV{priority}")
