"""Numbers from URLs that the database can hold (SECURITY V3): ids within the id columns' range, pages clamped.

Every id column is an `Integer`: a signed 32-bit int4 on PostgreSQL, where SQLAlchemy casts the parameter to it
(`... = %(id)s::INTEGER`) and a bigger value fails with "integer out of range"; SQLite cannot even bind a value
above 2^63 - 1 (OverflowError). Either was a 500. No row can have a bigger id, so such a URL never matches (a
404) and no query runs.
"""

from __future__ import annotations

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest `Integer` on PostgreSQL; a BigInteger id would need a converter of its own
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
