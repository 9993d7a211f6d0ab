"""The article editor's form: the fields of `article_create` / `article_update`, plus the teams
of `article_restrict` for those who may restrict.

It checks shape only, as the API's input serializers do (lengths, choices, the tenant's own
services, categories and teams); the services decide the rest.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from itsm.catalog import selectors as catalog_selectors
from itsm.catalog.models import Category, Service
from itsm.errors import DomainError
from itsm.tenancy.models import Team, Tenant
from itsm.tenancy.selectors import team_list
from knowledgebase.choices import ArticleAudience
from knowledgebase.models import Article

TITLE_MAX = Article._meta.get_field("title").max_length
SUMMARY_MAX = Article._meta.get_field("summary").max_length
BODY_MAX = 100000  # as the API and the model
TAG_MAX = 64
TAGS_MAX = 20  # as the API
# Keys a browser sends besides the form's fields: the token and the two submit buttons.
FORM_OVERHEAD = frozenset({"csrfmiddlewaretoken", "save", "preview"})


class CategoryChoiceField(forms.ModelChoiceField[Category]):
    """A category, shown under its parent (loaded with it by the selector)."""

    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.parent.name} / {obj.name}" if obj.parent is not None else obj.name


class ArticleForm(forms.Form):
    """Write or edit an article. `may_restrict` adds the teams field (editors only, as the
    API's `restrict`); `versioned` adds the version the form was made on (the If-Match)."""

    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX)
    summary = forms.CharField(
        label=_("Summary"),
        max_length=SUMMARY_MAX,
        required=False,
        help_text=_("One or two sentences shown in lists and search results."),
    )
    # Markdown: trailing spaces are a line break, so the text is kept exactly as typed.
    body = forms.CharField(
        label=_("Body"),
        max_length=BODY_MAX,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "true"}),
        help_text=_("Markdown: # headings, **bold**, lists, `code`, [links](https://…)."),
    )
    audience = forms.ChoiceField(
        label=_("Audience"), choices=ArticleAudience.choices, initial=ArticleAudience.AGENTS
    )
    service: forms.ModelChoiceField[Service] = forms.ModelChoiceField(
        label=_("Service"),
        queryset=None,
        required=False,
        to_field_name="slug",
        empty_label=_("— None —"),
    )
    category = CategoryChoiceField(
        label=_("Category"),
        queryset=None,
        required=False,
        to_field_name="slug",
        empty_label=_("— None —"),
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=TAGS_MAX * (TAG_MAX + 2),
        help_text=_("Separated by commas, e.g. vpn, remote work."),
    )

    def __init__(
        self,
        *args: Any,
        tenant: Tenant,
        may_restrict: bool,
        versioned: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        service, category = self.fields["service"], self.fields["category"]
        assert isinstance(service, forms.ModelChoiceField)
        assert isinstance(category, forms.ModelChoiceField)
        service.queryset = catalog_selectors.service_list(tenant=tenant).filter(is_active=True)
        category.queryset = catalog_selectors.category_list(tenant=tenant).filter(is_active=True)
        if may_restrict:
            self.fields["teams"] = forms.ModelMultipleChoiceField(
                label=_("Restrict to teams"),
                queryset=team_list(tenant=tenant).prefetch_related(None).order_by("name", "id"),
                required=False,
                to_field_name="slug",
                widget=forms.CheckboxSelectMultiple,
                help_text=_(
                    "Only members of these teams (and tenant administrators) will see the "
                    "article. None: everyone who may read it."
                ),
            )
        if versioned:
            self.fields["version"] = forms.IntegerField(
                widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1
            )

    @property
    def restricts(self) -> bool:
        return "teams" in self.fields

    def clean_tags(self) -> list[str]:
        names: list[str] = []
        for part in str(self.cleaned_data.get("tags") or "").split(","):
            name = " ".join(part.split())
            if not name or name.casefold() in (known.casefold() for known in names):
                continue
            if len(name) > TAG_MAX:
                raise ValidationError(
                    _("“%(name)s” is longer than %(max)d characters."),
                    code="tag_too_long",
                    params={"name": name[:20] + "…", "max": TAG_MAX},
                )
            names.append(name)
        if len(names) > TAGS_MAX:
            raise ValidationError(
                _("At most %(max)d tags."), code="too_many_tags", params={"max": TAGS_MAX}
            )
        return names

    def clean(self) -> dict[str, Any] | None:
        """Refuse keys the form does not have, as the API's input serializers do: a field posted
        by hand (status, counters, teams without the right) is an error, not silently dropped."""
        cleaned = super().clean()
        unknown = sorted(set(self.data) - set(self.fields) - FORM_OVERHEAD)
        if unknown:
            shown = ", ".join(name[:40] for name in unknown[:5])
            raise ValidationError(
                _("This form does not take these fields: %(names)s."),
                code="unknown_field",
                params={"names": shown + (", …" if len(unknown) > 5 else "")},
            )
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """The validated text and descriptive fields, keyed as the services take them."""
        names = ("title", "summary", "body", "audience", "service", "category", "tags")
        return {name: self.cleaned_data[name] for name in names}

    def chosen_teams(self) -> list[Team]:
        return list(self.cleaned_data.get("teams") or [])

    def add_service_error(self, error: DomainError | ValidationError) -> None:
        """Show what the service refused next to the field it names (else above the form)."""
        if isinstance(error, DomainError):
            fields = {name: list(messages) for name, messages in error.fields.items()}
            general = [error.message]
        else:
            fields = dict(error.message_dict) if hasattr(error, "error_dict") else {}
            general = error.messages
        if not fields:
            self.add_error(None, general)
        for name, messages in fields.items():
            self.add_error(name if name in self.fields else None, messages)
