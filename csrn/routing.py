"""Numbers from URLs that the database can hold (SECURITY V3): ids in a signed 64-bit range, pages clamped.

SQLite refuses a Python int above 2^63 - 1 as a parameter (OverflowError, a 500) and PostgreSQL compares a bigger
one as numeric; either way no row can have such an id, so the URL never matches (a 404) and no query runs.
"""

from __future__ import annotations

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1
# Far past the end of any list, and small enough that OFFSET (page x page size) stays a modest number.
MAX_PAGE = 100_000


class IdConverter(IntegerConverter):
    """The app's `<int:...>`: a value above MAX_ID does not match the rule, so the answer is a 404."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - Werkzeug's own parameter name
        """Take Werkzeug's arguments; cap `max` at MAX_ID."""
        super().__init__(map, *args, **kwargs)
        self.max = MAX_ID if self.max is None else min(self.max, MAX_ID)


def requested_page() -> int:
    """The list page asked for with `?page=`, clamped to 1..MAX_PAGE (anything not a number reads as 1)."""
    page = request.args.get("page", 1, type=int)
    return max(1, min(page, MAX_PAGE))


def id_arg_or_404(name: str) -> int | None:
    """An id given in the query string (`?new=3`): None when missing or not a number, a 404 when out of range."""
    value = request.args.get(name, type=int)
    if value is not None and not 0 <= value <= MAX_ID:
        abort(404)  # as an unknown id would be, without asking the database
    return value
