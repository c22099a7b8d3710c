"""Protocol Markdown to safe HTML: parse, sanitise with an allow-list, then add live blocks.

Protocol text never passes through Jinja as a template. It is parsed by markdown-it-py with raw
HTML off, and the parser's output is sanitised by nh3 with an explicit allow-list anyway (SECURITY
V2: a parser option is one setting away from letting markup through). Only nh3's output becomes
Markup; live blocks are swapped in after that, from server-rendered templates that hold no
protocol text. Pages show the result inside an `hx-disable` container as a second layer.
"""

from __future__ import annotations

import re
from datetime import datetime

import nh3
from flask import render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from csrn.oncall import operations as oncall_ops
from csrn.settings.operations import get_settings

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
# Dropped together with everything inside them (other unknown tags lose the tag, keep the text).
DROPPED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript", "textarea",
    "title",
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
LINK_REL = "noopener noreferrer"

LIVE_BLOCKS = {"now": "On call now", "week": "On call this week"}
_MARKER_LINE = re.compile(r"^ {0,3}\[\[oncall-(now|week)\]\][ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# After sanitising, a marker that stood on a line of its own is a paragraph of its own.
_MARKER_PARAGRAPH = re.compile(r"<p>\[\[oncall-(now|week)\]\]</p>")


def _parser() -> MarkdownIt:
    # CommonMark with tables and strikethrough; raw HTML off; images off (no third-party requests:
    # `![alt](url)` shows as a link instead).
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    ).disable("image")


def isolate_live_blocks(text: str) -> str:
    """Put blank lines around each live-block marker standing on a line of its own (not in code)."""
    lines = []
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip(
            fence[0] + " \t"
        ):
            fence = None
        elif fence is None and _MARKER_LINE.match(line):
            lines += ["", line.strip(), ""]
            continue
        lines.append(line)
    return "\n".join(lines)


def markdown_to_html(text: str) -> str:
    """Render Markdown to (not yet trusted) HTML; a `#` heading becomes h2, under the page's own h1."""
    parser = _parser()
    env: dict = {}
    tokens = parser.parse(isolate_live_blocks(text), env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"
    return parser.renderer.render(tokens, parser.options, env)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Relative links stay on this site: no protocol-relative `//host` and no backslash tricks.
    if attribute == "href" and (value.startswith("//") or "\\" in value):
        return None
    return value


def sanitise(html: str) -> str:
    """Keep only the allow-listed tags, attributes and link schemes; every link gets rel=noopener."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
        set_tag_attribute_values={"th": {"scope": "col"}},
    )


def oncall_block(kind: str, now: datetime) -> Markup:
    """The live block for `[[oncall-now]]` or `[[oncall-week]]`, rendered by the server at `now`.

    `[[oncall-now]]` is the roster's answer to "whom do I call?" at `now` (the same function as /oncall/now);
    `[[oncall-week]]` the seven days from today. Without a roster it says so and gives the fallback number.
    """
    html = render_template(
        "protocols/_oncall_block.html",
        kind=kind,
        heading=LIVE_BLOCKS[kind],
        fallback_phone=get_settings().fallback_phone,
        now=now,
        answers=oncall_ops.who_is_on_call(now) if kind == "now" else None,
        week=oncall_ops.roster_by_day(oncall_ops.local_today(now), 7) if kind == "week" else None,
    )
    return Markup(html)  # noqa: S704 - our own autoescaped template; no protocol text reaches it


def render_protocol(text: str, now: datetime) -> Markup:
    """The page body as safe HTML: Markdown, sanitised, then live blocks as of `now`."""
    clean = sanitise(markdown_to_html(text))
    with_blocks = _MARKER_PARAGRAPH.sub(lambda match: oncall_block(match.group(1), now), clean)
    # Protocol text becomes Markup only here, after nh3 (SECURITY V1's one exception).
    return Markup(with_blocks)  # noqa: S704
