"""The read-only HSDS 3.0 API at /api/hsds/: the paths of the official OpenAPI document, over the public
directory only (the export's rules: `objects.py`), as JSON.

Access: `Authorization: Bearer TOKEN` with an API token (issued by an admin at /admin/api-tokens/ or with
`flask --app app csrn api-token create NAME`), or nobody's when an admin has made the API public. A missing or
wrong token answers 401 JSON with `WWW-Authenticate: Bearer`, never the login page: these endpoints are on the
public allow-list (csrn.security.PUBLIC_ENDPOINTS) and check the token themselves. Requests are limited per token
(per address when no token is sent). GET only, so CSRF does not arise; the security headers apply as everywhere.

The app serves its own OpenAPI document at /api/hsds/openapi.json: the official one with its references to the
specification's repository rewritten to the copies served here (/api/hsds/schema/...), this server's URL and the
bearer scheme filled in. It and the schemas are open to all (they describe the API, not the directory).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import wraps

from flask import Blueprint, abort, current_app, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from csrn.auth import tokens
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.hsds import objects
from csrn.hsds.export import SPEC
from csrn.links import external_url
from csrn.settings.operations import get_settings

bp = Blueprint("hsds_api", __name__, url_prefix="/api/hsds")

REMOTE_SCHEMAS = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
# The schema files served under /api/hsds/schema/, by the path the official document's references use.
SCHEMA_FILES = {
    **{f"compiled/{name}.json": SPEC / "compiled" / f"{name}.json" for name in (
        "service", "service_list", "organization", "organization_list", "service_at_location",
        "service_at_location_list")},
    **{f"{name}.json": SPEC / "schema" / f"{name}.json" for name in ("taxonomy", "taxonomy_term", "metadata")},
}
PROFILE = "https://docs.openreferral.org/en/latest/hsds/"
DEFAULT_RATE_LIMIT = "120 per minute"  # per token; HSDS_API_RATE_LIMIT in the configuration overrides it
PER_PAGE, MAX_PER_PAGE, MAX_PAGE = 50, 200, 1_000_000_000
MAX_SEARCH = 200
# Parameters of the official document CSRN accepts and ignores (documented in the served document and README).
IGNORED = ("format", "minimal", "full", "full_service", "postcode", "proximity", "top_only", "parent_id")
DIGITS = re.compile(r"^[0-9]{1,10}$")


class BadParameter(ValueError):
    """A query parameter the API cannot read: a 400, naming it."""


# ----- access ---------------------------------------------------------------------------------------------

def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def _limit_key() -> str:
    raw = bearer_token()
    return f"hsds-api:token:{tokens.hash_token(raw)}" if raw else f"hsds-api:address:{get_remote_address()}"


def _rate_limit() -> str:
    return current_app.config.get("HSDS_API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _json(body, status: int = 200, headers: dict | None = None):
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status,
                                          mimetype="application/json")
    response.headers.update(headers or {})
    return response


def _problem(status: int, message: str, headers: dict | None = None):
    return _json({"status": status, "error": message}, status, headers)


def _unauthorised(message: str, invalid: bool):
    challenge = 'Bearer realm="HSDS API"' + (', error="invalid_token"' if invalid else "")
    return _problem(401, message, {"WWW-Authenticate": challenge})


def _authenticate():
    """None when the request may read the API; otherwise the 401 to send."""
    raw = bearer_token()
    if raw is not None:
        token = tokens.find_api(raw, utcnow())
        if token is None:
            return _unauthorised("The API token is not valid: unknown or revoked.", invalid=True)
        if db.session.is_modified(token):
            db.session.commit()  # its last use
        return None
    if get_settings().hsds_api_public:
        return None
    return _unauthorised("This API needs an API token, sent as `Authorization: Bearer TOKEN`.", invalid=False)


def api_view(view):
    """An API endpoint: limited per token, then the token checked (or the API public), then the view."""

    @limiter.shared_limit(_rate_limit, scope="hsds-api", key_func=_limit_key)
    @wraps(view)
    def wrapped(*args, **kwargs):
        refused = _authenticate()
        return refused if refused is not None else view(*args, **kwargs)

    return wrapped


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException):
    """Errors of the API as JSON (400 bad parameter, 404 unknown id, 429 too many requests), never a page."""
    messages = {404: "No such object in the public directory.", 429: "Too many requests: slow down."}
    message = error.description if error.code == 400 else messages.get(error.code, error.name)
    return _problem(error.code or 500, message)


# ----- parameters -------------------------------------------------------------------------------------

def _arg(name: str) -> str:
    value = request.args.get(name, "")
    if "\x00" in value or any(ord(c) < 32 for c in value):
        raise BadParameter(f"`{name}` contains a control character.")
    return value


def _number(name: str, default: int, highest: int) -> int:
    text = _arg(name).strip()
    if not text:
        return default
    if not DIGITS.match(text) or not 1 <= int(text) <= highest:
        raise BadParameter(f"`{name}` must be a whole number from 1 to {highest}.")
    return int(text)


def _uuid(name: str) -> str:
    text = _arg(name).strip()
    if text and not objects.is_uuid(text):
        raise BadParameter(f"`{name}` must be a UUID (like 3f7b145d-84af-42d7-8fae-eaca714b02b2).")
    return text


def _moment(name: str) -> datetime | None:
    text = _arg(name).strip()
    if not text:
        return None
    try:
        if len(text) > 40:
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadParameter(f"`{name}` must be an ISO 8601 date or date and time (like 2025-01-31T09:00:00Z).") from None


def list_query() -> objects.Query:
    """The list parameters of the request; BadParameter (a 400) for one it cannot read."""
    search = _arg("search").strip()
    if len(search) > MAX_SEARCH:
        raise BadParameter(f"`search` is longer than {MAX_SEARCH} characters.")
    return objects.Query(search=search, organization_id=_uuid("organization_id"), taxonomy_id=_uuid("taxonomy_id"),
                         taxonomy_term_id=_uuid("taxonomy_term_id"), modified_after=_moment("modified_after"),
                         page=_number("page", 1, MAX_PAGE), per_page=_number("per_page", PER_PAGE, MAX_PER_PAGE))


def _listing(build):
    try:
        query = list_query()
    except BadParameter as error:
        abort(400, description=str(error))
    return _json(build(query))


def _one(found):
    if found is None:
        abort(404)
    return _json(found)


def _lookup(find, hsds_id: str):
    """The object of this id, or 404 (an id that is not a UUID names nothing)."""
    return _one(find(hsds_id) if objects.is_uuid(hsds_id) else None)


# ----- the paths of the official document -------------------------------------------------------------------

@bp.get("/")
@api_view
def meta():
    """About this API: its HSDS version, profile and OpenAPI document."""
    return _json({"version": objects.HSDS_VERSION, "profile": PROFILE, "openapi_url": external_url("hsds_api.openapi")})


@bp.get("/services")
@api_view
def services():
    """A page of public services (their one-to-one fields), filtered as asked."""
    return _listing(lambda query: objects.services(query, utcnow()))


@bp.get("/services/<hsds_id>")
@api_view
def service(hsds_id: str):
    """One public service, fully nested."""
    return _lookup(objects.service, hsds_id)


@bp.get("/organizations")
@api_view
def organizations():
    """A page of public organizations (their one-to-one fields)."""
    return _listing(lambda query: objects.organizations(query, utcnow()))


@bp.get("/organizations/<hsds_id>")
@api_view
def organization(hsds_id: str):
    """One public organization with its phone, attributes, public locations and services."""
    return _lookup(lambda found: objects.organization(found, utcnow()), hsds_id)


@bp.get("/service_at_locations")
@api_view
def service_at_locations():
    """A page of services at public locations."""
    return _listing(lambda query: objects.service_at_locations(query, utcnow()))


@bp.get("/service_at_locations/<hsds_id>")
@api_view
def service_at_location(hsds_id: str):
    """One service at a public location, fully nested."""
    return _lookup(objects.service_at_location, hsds_id)


@bp.get("/taxonomies")
@api_view
def taxonomies():
    """A page of taxonomies."""
    return _listing(objects.taxonomies)


@bp.get("/taxonomies/<hsds_id>")
@api_view
def taxonomy(hsds_id: str):
    """One taxonomy."""
    return _lookup(objects.taxonomy, hsds_id)


@bp.get("/taxonomy_terms")
@api_view
def taxonomy_terms():
    """A page of taxonomy terms."""
    return _listing(objects.taxonomy_terms)


@bp.get("/taxonomy_terms/<hsds_id>")
@api_view
def taxonomy_term(hsds_id: str):
    """One taxonomy term, with its taxonomy."""
    return _lookup(objects.taxonomy_term, hsds_id)


# ----- the OpenAPI document and its schemas --------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI document: the official one with local references, this server and the bearer scheme."""
    return _json(openapi_document())


@bp.get("/schema/<path:name>")
def schema(name: str):
    """A JSON schema the OpenAPI document refers to (a copy of the official file)."""
    path = SCHEMA_FILES.get(name)
    if path is None:
        abort(404)
    return current_app.response_class(path.read_bytes(), mimetype="application/schema+json")


def _local_refs(node):
    """The document with every reference to the specification's repository pointing at the copy served here."""
    if isinstance(node, dict):
        found = {key: _local_refs(value) for key, value in node.items()}
        ref = found.get("$ref")
        if isinstance(ref, str) and ref.startswith(REMOTE_SCHEMAS):
            found["$ref"] = url_for("hsds_api.schema", name=ref.removeprefix(REMOTE_SCHEMAS))
        return found
    if isinstance(node, list):
        return [_local_refs(item) for item in node]
    return node


ERROR_SCHEMA = {"type": "object", "required": ["status", "error"],
                "properties": {"status": {"type": "integer"}, "error": {"type": "string"}}}
ERRORS = {"400": "A parameter could not be read (not a whole number, out of range, not a UUID, not a date).",
          "401": "No API token, or one that is unknown or revoked (the answer carries `WWW-Authenticate: Bearer`).",
          "404": "No such object in the public directory.",
          "429": "Too many requests with this token (or from this address, without one)."}


def openapi_document() -> dict:
    """The official OpenAPI document, with local references, this server's URL, the bearer scheme, the error
    answers, and what CSRN does with each parameter."""
    document = _local_refs(json.loads((SPEC / "openapi.json").read_text(encoding="utf-8")))
    public = get_settings().hsds_api_public
    document["info"] = {
        "title": f"{get_settings().name}: HSDS API",
        "version": objects.HSDS_VERSION,
        "summary": "The public directory of the task force's referral network, read-only, as Open Referral HSDS 3.0.",
        "description": (
            "Member agencies and listed community resources, their services and public locations; never a "
            "confidential or members-only address, an internal note or a point of contact. Paging: `page` "
            f"(from 1) and `per_page` (1 to {MAX_PER_PAGE}, default {PER_PAGE}). Filters: `search` (the directory's "
            "own search), `organization_id`, `taxonomy_id`, `taxonomy_term_id`, `modified_after` (ISO 8601). "
            f"Accepted and ignored: {', '.join(f'`{name}`' for name in IGNORED)}; any other parameter is ignored "
            "too. `/service_at_locations/{id}` answers the service at location with its service's `name` and "
            "`status` as well, so it is valid against both the official document's service schema and the "
            "service_at_location schema. Send an API token as `Authorization: Bearer TOKEN`"
            + (" (optional: this API is public)." if public else ".")),
        "license": {"name": "This document: CC BY-SA 4.0, adapted from the Open Referral HSDS 3.0 OpenAPI document "
                            "(Human Services Data Specification: an Open Referral resource, https://openreferral.org/)",
                    "url": "https://creativecommons.org/licenses/by-sa/4.0/"},
    }
    document["servers"] = [{"url": external_url("hsds_api.meta").rstrip("/"), "description": "This server"}]
    components = document.setdefault("components", {})
    components["securitySchemes"] = {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "An API token issued by an administrator of this server (/admin/api-tokens/)."}}
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["responses"] = {code: {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for code, text in ERRORS.items()}
    document["security"] = [{"bearerAuth": []}] + ([{}] if public else [])
    for path, item in document["paths"].items():
        for operation in (value for key, value in item.items() if key == "get"):
            codes = ["401", "429"] + (["404"] if "{id}" in path else []) + (["400"] if "parameters" in operation
                                                                              and "{id}" not in path else [])
            for code in codes:
                operation["responses"].setdefault(code, {"$ref": f"#/components/responses/{code}"})
    return document
