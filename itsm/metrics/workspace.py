"""The metrics dashboard's part of the workspace shell: its header link, for the staff."""

from __future__ import annotations

from itsm.tenancy.choices import STAFF_ROLES
from itsm.web.workspace import NavItem, register_nav


def register() -> None:
    register_nav(
        NavItem(
            "Metrics", "metrics:dashboard", frozenset(STAFF_ROLES), order=60, section=("metrics:",)
        )
    )
