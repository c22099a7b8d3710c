"""CSV exports (SECURITY V6): RFC 4180 quoting and formula cells neutralised."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from flask import current_app

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r", "\x00")


def cell(value) -> str:
    """One CSV cell as text; a cell a spreadsheet would run as a formula starts with a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).replace("\x00", "")
    if text.startswith(DANGEROUS_FIRST):
        return "'" + text
    return text


def to_csv(header: list[str], rows) -> str:
    """The rows as RFC 4180 CSV (CRLF line ends, every cell quoted when needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue()


def csv_response(filename: str, header: list[str], rows):
    """A CSV download."""
    response = current_app.response_class(to_csv(header, rows), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
