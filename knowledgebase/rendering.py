"""Markdown to safe HTML: parse with markdown-it-py, then sanitise the result with nh3.

Two locks, so that neither library alone has to be perfect:

1. markdown-it-py runs with raw HTML off (the CommonMark preset with `html: False`): `<script>`
   or `<img onerror=…>` written in the body come out as escaped text, and its link validator
   drops `javascript:`, `vbscript:`, `file:` and `data:` destinations.
2. nh3 (the Rust `ammonia` sanitiser) then keeps only an allow-list of tags and attributes and
   the URL schemes http, https and mailto (relative links too). Nothing outside the list
   survives: no `<script>`/`<style>`/`<iframe>`, no event attribute, no `style`, no `class`. It
   sets `rel="noopener noreferrer nofollow"` on every link.

The result is stored on the article when its text is saved (`Article.body_html`), so readers
never pay for rendering and a list or a page reads one column.
"""

from __future__ import annotations

from typing import Final

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS: Final = frozenset(
    {
        "a",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
LINK_REL: Final = "noopener noreferrer nofollow"

_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Safe HTML for a Markdown text: no script, no dangerous URL, no event or style attribute."""
    return sanitize_html(_parser.render(text))


def sanitize_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes of `html`."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
