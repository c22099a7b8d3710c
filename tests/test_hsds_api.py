"""The read-only HSDS 3.0 API (/api/hsds/), driven by its own OpenAPI document: a generic client walks every path
of the document the app serves (the official one with local references), fills the ids from list results, calls
each list with and without each filter, and validates every object and every item of `contents` against the schema
the document names (jsonschema, the copied official schemas fetched from the app itself). Around it: 404 JSON for
unknown ids, 400 JSON for bad parameters (and a property test: random parameters answer 200, 400 or 404, never
500), bearer tokens (401 with `WWW-Authenticate: Bearer` without one, with a wrong or revoked one; 200 with a valid
one; open to all with the public setting), the rate limit per token, the public-only rules (no confidential or
members-only address, no internal note, no point of contact, no pro bono volunteer anywhere), no query per list
item, the admin page (roles, a token shown once, revoke with a confirmation, audited) and the CLI."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import event, select

import csrn.demo
from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.auth.models import API_PURPOSE, AccessToken
from csrn.directory.models import Location, Service
from csrn.extensions import db
from csrn.hsds.access import issue_token
from csrn.hsds.api import MAX_PER_PAGE, REMOTE_SCHEMAS
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW, csrf_from
from tests.directory_factories import build_service

API = "/api/hsds"
BASE = "http://localhost"  # what the test client's requests are resolved against
CONFIDENTIAL = "17 Hidden Refuge Lane SENTINEL7731"
MEMBERS_ONLY = "2 Members Only Court MEMBERSONLY4410"
NOTE = "INTERNALNOTE-Q7 renewal talk"
POC = "poc-sentinel-5521@example.org"
VOLUNTEER_SERVICE = "VOLUNTEERSERVICE-8812 pro bono counsel"
VOLUNTEER_PLACE = "VOLUNTEERPLACE-3391 Attorney Row"
HIDDEN = (CONFIDENTIAL, "SENTINEL7731", MEMBERS_ONLY, "MEMBERSONLY4410", NOTE, POC, VOLUNTEER_SERVICE,
          VOLUNTEER_PLACE)
FILTER_PARAMETERS = ("search", "organization_id", "taxonomy_id", "taxonomy_term_id", "modified_after")


# ----- the world: the demo directory, and what must never go out --------------------------------------------

@pytest.fixture
def directory(app, monkeypatch, tmp_path) -> dict:
    """The demo directory, plus on a public member agency a confidential and a members-only location, an internal
    note and a point of contact; a pro bono volunteer's provider with a public location and a service."""
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    monkeypatch.setitem(app.config, "HSDS_API_RATE_LIMIT", "100000 per minute")
    with app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
        agency = db.session.scalar(
            select(Agency).where(Agency.membership_status == "member", Agency.vetting_required.is_(False),
                                 Agency.id.in_(select(Service.agency_id)),
                                 Agency.id.in_(select(Location.agency_id).where(Location.visibility == "public")))
            .order_by(Agency.id))
        agency.internal_notes, agency.poc_email = NOTE, POC
        for name, address, visibility in (("Safe house SENTINEL7731", CONFIDENTIAL, "confidential"),
                                          ("Staff office", MEMBERS_ONLY, "members")):
            db.session.add(Location(agency_id=agency.id, name=name, address_1=address, city="Riverton",
                                    state="IL", postal_code="60000", visibility=visibility, created_at=NOW,
                                    updated_at=NOW))
        volunteer = db.session.scalar(select(Agency).where(Agency.vetting_required.is_(True)).order_by(Agency.id))
        assert volunteer is not None, "the demo has a pro bono volunteer"
        volunteer.membership_status = "member"  # even a member: a volunteer's provider never goes out
        db.session.add(Location(agency_id=volunteer.id, name="Office", address_1=VOLUNTEER_PLACE, city="Riverton",
                                state="IL", postal_code="60000", visibility="public", created_at=NOW,
                                updated_at=NOW))
        build_service(volunteer.id, name=VOLUNTEER_SERVICE)
        db.session.commit()
        found = {"agency": agency.uuid, "volunteer": volunteer.uuid, "volunteer_name": volunteer.name,
                 "public_services": db.session.scalar(
                     select(db.func.count()).select_from(Service).join(Agency).where(
                         Agency.membership_status.in_(("member", "listed")), Agency.vetting_required.is_(False)))}
    return found


def make_token(app, name: str | None = None) -> str:
    """A fresh API token, issued as the command line issues it."""
    with app.app_context():
        raw, _ = issue_token(None, name or f"System {uuid.uuid4().hex[:8]}", NOW)
    return raw


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def set_public(app, public: bool) -> None:
    with app.app_context():
        row = db.session.get(TaskForceSettings, 1)
        if row is None:
            row = TaskForceSettings(id=1)
            db.session.add(row)
        row.hsds_api_public = public
        db.session.commit()


@pytest.fixture
def token(app, directory) -> str:
    return make_token(app)


# ----- the generic OpenAPI client ----------------------------------------------------------------------

def format_checker() -> FormatChecker:
    """jsonschema's checks, with `date-time` and `uri` checked too (their optional packages are not installed)."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value and moment.tzinfo is not None

    @checker.checks("uri")
    def is_uri(value) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)

    return checker


class Client:
    """A generic HSDS API client: the OpenAPI document the app serves, its schemas fetched from the app, and
    validation of every answer against the schema the document gives for it."""

    def __init__(self, http, headers: dict):
        self.http, self.headers = http, headers
        response = http.get(f"{API}/openapi.json")
        assert response.status_code == 200 and response.mimetype == "application/json"
        self.document = response.get_json()
        self.document_uri = f"{BASE}{API}/openapi.json"
        self.fetched: list[str] = []
        self.registry = Registry(retrieve=self._retrieve).with_resource(
            self.document_uri, Resource.from_contents(self.document, default_specification=DRAFT202012))
        self.checker = format_checker()
        self.bodies: list[str] = []

    def _retrieve(self, uri: str) -> Resource:
        parts = urlsplit(uri)
        assert f"{parts.scheme}://{parts.netloc}" == BASE, f"a reference leaves the app: {uri}"
        response = self.http.get(parts.path)
        assert response.status_code == 200, uri
        self.fetched.append(parts.path)
        return Resource.from_contents(json.loads(response.get_data()), default_specification=DRAFT202012)

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at this JSON pointer of the document."""
        return Draft202012Validator({"$ref": f"{self.document_uri}#{pointer}"}, registry=self.registry,
                                    format_checker=self.checker)

    def get(self, path: str, **query):
        response = self.http.get(f"{API}{path}", query_string=query, headers=self.headers)
        self.bodies.append(response.get_data(as_text=True))
        return response

    def operations(self):
        """(path, operation, its parameter objects) of every GET of the document."""
        for path, item in self.document["paths"].items():
            operation = item["get"]
            parameters = [self._parameter(p) for p in item.get("parameters", []) + operation.get("parameters", [])]
            yield path, operation, parameters

    def _parameter(self, parameter: dict) -> dict:
        if "$ref" not in parameter:
            return parameter
        node = self.document
        for part in parameter["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return node

    def check(self, path: str, body) -> list[str]:
        """Validate an answer of `path` against the document: the whole object, and each item of a list page
        against the item schema on its own (so a problem names the item)."""
        escaped = path.replace("~", "~0").replace("/", "~1")
        pointer = f"/paths/{escaped}/get/responses/200/content/application~1json/schema"
        problems = [f"{path}: {error.message} at {list(error.absolute_path)}"
                    for error in self.validator(pointer).iter_errors(body)]
        if "{id}" not in path and path != "/":
            problems += [f"{path} item {item.get('id')}: {error.message} at {list(error.absolute_path)}"
                         for item in body["contents"]
                         for error in self.validator(f"{pointer}/properties/contents/items").iter_errors(item)]
        return problems


def every_item(client: Client, path: str, **query) -> list[dict]:
    """Every item of a list path, page by page."""
    items, page = [], 1
    while True:
        response = client.get(path, page=page, per_page=MAX_PER_PAGE, **query)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        body = response.get_json()
        items += body["contents"]
        if body["last_page"]:
            return items
        page += 1


def filter_values(client: Client, directory: dict) -> dict[str, list[str]]:
    """Values for each filter taken from the data (and one that matches nothing)."""
    services = every_item(client, "/services")
    term = client.get("/taxonomy_terms").get_json()["contents"][0]
    word = next(word for service in services for word in re.findall(r"[A-Za-z]{5,}", service["name"]))
    return {
        "search": [word, "no such thing whatsoever"],
        "organization_id": [directory["agency"], str(uuid.uuid4())],
        "taxonomy_id": [term["taxonomy_id"], str(uuid.uuid4())],
        "taxonomy_term_id": [term["id"], str(uuid.uuid4())],
        "modified_after": ["2000-01-01", "2026-11-28T15:00:00Z", "2999-01-01T00:00:00+02:00"],
        "page": ["1", "2"], "per_page": ["1", "7"],
    }


def test_every_path_and_filter_of_the_openapi_document_answers_valid_hsds(app, directory, token):
    """Every path of the served document, with and without each filter and on every page: each object and each
    item of `contents` validates against the schema the document names; ids come from the list results."""
    client = Client(app.test_client(), bearer(token))
    values = filter_values(client, directory)
    problems, ids, seen_parameters = [], {}, set()
    operations = list(client.operations())
    assert {path for path, _, _ in operations} == {
        "/", "/services", "/services/{id}", "/organizations", "/organizations/{id}", "/service_at_locations",
        "/service_at_locations/{id}", "/taxonomies", "/taxonomies/{id}", "/taxonomy_terms", "/taxonomy_terms/{id}"}
    for path, _, parameters in operations:
        if "{id}" in path or path == "/":
            continue
        items = every_item(client, path)
        assert items, f"{path} lists nothing"
        ids[path] = [item["id"] for item in items]
        for page in (1, 2, 10**6):
            response = client.get(path, page=page, per_page=2)
            assert response.status_code == 200
            body = response.get_json()
            problems += client.check(path, body)
            assert body["page_number"] == page and body["size"] == len(body["contents"]) <= 2
            assert body["total_items"] == len(items) and body["total_pages"] == -(-len(items) // 2)
            assert body["first_page"] is (page == 1) and body["last_page"] is (page >= body["total_pages"])
            assert body["empty"] is (not body["contents"])
        names = {parameter["name"] for parameter in parameters if parameter["in"] == "query"}
        for name in sorted(names):
            seen_parameters.add(name)
            for value in values.get(name, ["true", "x"]):  # the parameters CSRN ignores take any value
                response = client.get(path, **{name: value})
                assert response.status_code == 200, (path, name, value, response.get_data(as_text=True)[:300])
                problems += client.check(path, response.get_json())
    assert set(FILTER_PARAMETERS) <= seen_parameters
    for path, _, _ in operations:
        if path == "/":
            response = client.get("/")
            assert response.status_code == 200
            problems += client.check(path, response.get_json())
            assert response.get_json()["openapi_url"].endswith(f"{API}/openapi.json")
            continue
        if "{id}" not in path:
            continue
        for hsds_id in ids[path.removesuffix("/{id}")]:
            response = client.get(path.replace("{id}", hsds_id))
            assert response.status_code == 200, (path, hsds_id)
            body = response.get_json()
            assert body["id"] == hsds_id
            problems += client.check(path, body)
    assert not problems, "\n".join(problems[:30])
    # The schemas were fetched from the app: every reference of the document is local.
    assert {"/api/hsds/schema/compiled/service.json", "/api/hsds/schema/compiled/service_list.json",
            "/api/hsds/schema/taxonomy_term.json"} <= set(client.fetched)
    assert len(ids["/services"]) == directory["public_services"]
    everything = "".join(client.bodies)
    for hidden in (*HIDDEN, directory["volunteer"], directory["volunteer_name"]):
        assert hidden not in everything, hidden


def test_the_service_at_location_answer_is_valid_against_its_own_schema_too(app, directory, token):
    """/service_at_locations/{id}: the official document names the service schema; the answer is also a valid
    service_at_location, with its service and location nested."""
    client = Client(app.test_client(), bearer(token))
    item = client.get("/service_at_locations", per_page=1).get_json()["contents"][0]
    body = client.get(f"/service_at_locations/{item['id']}").get_json()
    schema = {"$ref": f"{BASE}{API}/schema/compiled/service_at_location.json"}
    validator = Draft202012Validator(schema, registry=client.registry, format_checker=client.checker)
    assert [error.message for error in validator.iter_errors(body)] == []
    assert body["service"]["id"] == body["service_id"] == item["service_id"]
    assert body["location"]["id"] == body["location_id"] and body["location"]["addresses"][0]["address_1"]


def test_filters_select_what_they_name(app, directory, token):
    """organization_id, taxonomy_term_id, taxonomy_id, modified_after and search narrow the lists as they say."""
    client = Client(app.test_client(), bearer(token))
    services = every_item(client, "/services")
    mine = every_item(client, "/services", organization_id=directory["agency"])
    assert mine and {s["organization_id"] for s in mine} == {directory["agency"]}
    assert len(mine) == sum(1 for s in services if s["organization_id"] == directory["agency"])
    sal = every_item(client, "/service_at_locations", organization_id=directory["agency"])
    assert sal and {item["service"]["organization_id"] for item in sal} == {directory["agency"]}
    term = client.get("/taxonomy_terms").get_json()["contents"][0]
    typed = every_item(client, "/services", taxonomy_term_id=term["id"])
    for item in typed:
        attributes = client.get(f"/services/{item['id']}").get_json()["attributes"]
        assert term["id"] in {attribute["taxonomy_term_id"] for attribute in attributes}
    assert every_item(client, "/services", taxonomy_id=term["taxonomy_id"]) == services or any(
        t["taxonomy_id"] != term["taxonomy_id"] for t in every_item(client, "/taxonomy_terms"))
    assert every_item(client, "/services", taxonomy_id=str(uuid.uuid4())) == []
    assert every_item(client, "/taxonomy_terms", taxonomy_id=term["taxonomy_id"])
    assert every_item(client, "/services", modified_after="2999-01-01") == []
    assert len(every_item(client, "/services", modified_after="2000-01-01T00:00:00Z")) == len(services)
    name = services[0]["name"]
    found = every_item(client, "/services", search=name)
    assert services[0]["id"] in {s["id"] for s in found} or services[0]["status"] != "active"
    for hidden in ("SENTINEL7731", "MEMBERSONLY4410", VOLUNTEER_SERVICE, NOTE):
        assert every_item(client, "/services", search=hidden) == []
        assert every_item(client, "/service_at_locations", search=hidden) == []
    assert every_item(client, "/organizations", search=directory["volunteer_name"]) == []


def test_a_term_filter_finds_exactly_the_services_carrying_the_term(app, directory, token):
    """For every taxonomy term: `taxonomy_term_id` lists exactly the services whose nested attributes name it, and
    `taxonomy_id` those with any term of the taxonomy (the same rows the export writes)."""
    client = Client(app.test_client(), bearer(token))
    carried: dict[str, set[str]] = {}
    for item in every_item(client, "/services"):
        for attribute in client.get(f"/services/{item['id']}").get_json()["attributes"]:
            carried.setdefault(attribute["taxonomy_term_id"], set()).add(item["id"])
    terms = every_item(client, "/taxonomy_terms")
    assert len({term["taxonomy_id"] for term in terms}) >= 1
    for term in terms:
        found = {s["id"] for s in every_item(client, "/services", taxonomy_term_id=term["id"])}
        assert found == carried.get(term["id"], set()), term["code"]
    for taxonomy in every_item(client, "/taxonomies"):
        found = {s["id"] for s in every_item(client, "/services", taxonomy_id=taxonomy["id"])}
        wanted = set().union(*(carried.get(t["id"], set()) for t in terms if t["taxonomy_id"] == taxonomy["id"]))
        assert found == wanted, taxonomy["name"]


def test_unknown_ids_answer_404_json(app, directory, token):
    """A well-formed id of nothing, an id of what is not public, and an id that is not a UUID: 404 JSON."""
    client = Client(app.test_client(), bearer(token))
    with app.app_context():
        confidential = db.session.scalar(select(Location.uuid).where(Location.visibility == "confidential"))
        volunteer_service = db.session.scalar(select(Service.uuid).where(Service.name == VOLUNTEER_SERVICE))
    for path in ("/services", "/organizations", "/service_at_locations", "/taxonomies", "/taxonomy_terms"):
        for hsds_id in (str(uuid.uuid4()), "not-a-uuid", "1", confidential, volunteer_service, directory["volunteer"]):
            response = client.get(f"{path}/{hsds_id}")
            assert response.status_code == 404, (path, hsds_id)
            assert response.mimetype == "application/json" and response.get_json()["status"] == 404


def test_no_such_path_or_method_answers_json(app, token):
    """A path under the API that matches no route, or a method it does not take: JSON too, never the HTML page."""
    client = app.test_client()
    for method, path in (("get", "/api/hsds/nothing"), ("get", "/api/hsds/services/x/y"),
                         ("post", "/api/hsds/services"), ("delete", "/api/hsds/organizations")):
        response = getattr(client, method)(path, headers=bearer(token))
        assert response.status_code in (404, 405), (method, path)
        assert response.mimetype == "application/json", (method, path)
        assert response.get_json()["status"] == response.status_code


@pytest.mark.parametrize("query", [
    {"page": "abc"}, {"page": "0"}, {"page": "-1"}, {"page": "1.5"}, {"page": "99999999999"}, {"per_page": "0"},
    {"per_page": str(MAX_PER_PAGE + 1)}, {"per_page": "ten"}, {"organization_id": "not-a-uuid"},
    {"taxonomy_id": "123"}, {"taxonomy_term_id": "'; DROP TABLE service;--"}, {"modified_after": "yesterday"},
    {"modified_after": "2026-13-01"}, {"modified_after": "0001-01-01T00:00:00+05:00"}, {"search": "a\x00b"},
    {"search": "x" * 201},
], ids=lambda query: "-".join(f"{k}={v[:12]!r}" for k, v in query.items()))
def test_bad_parameters_answer_400_json(app, directory, token, query):
    """A parameter the API cannot read: 400 JSON naming it, on every list path."""
    client = Client(app.test_client(), bearer(token))
    for path in ("/services", "/organizations", "/service_at_locations", "/taxonomies", "/taxonomy_terms"):
        response = client.get(path, **query)
        assert response.status_code == 400, (path, query)
        assert response.mimetype == "application/json"
        assert f"`{next(iter(query))}`" in response.get_json()["error"]


PATHS = ["/", "/services", "/organizations", "/service_at_locations", "/taxonomies", "/taxonomy_terms",
         "/services/{id}", "/organizations/{id}", "/service_at_locations/{id}", "/taxonomies/{id}",
         "/taxonomy_terms/{id}"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
NUMBERISH = st.one_of(TEXT, st.integers(min_value=-(10**40), max_value=10**40).map(str))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), hsds_id=st.one_of(TEXT.filter(lambda s: "/" not in s and s not in ("", ".", "..")),
                                                      st.uuids().map(str)),
       query=st.dictionaries(st.sampled_from(["page", "per_page", "search", "organization_id", "taxonomy_id",
                                              "taxonomy_term_id", "modified_after", "format", "full", "postcode",
                                              TEXT]), NUMBERISH, max_size=4))
def test_random_parameters_answer_200_400_or_404_never_500(app, directory, token, path, hsds_id, query):
    """Whatever the parameters and ids: 200, 400 or 404, always JSON — never a 500."""
    client = app.test_client()
    response = client.get(f"{API}{path.replace('{id}', quote(hsds_id, safe=''))}", query_string=query,
                          headers=bearer(token))
    assert response.status_code in (200, 400, 404), (path, hsds_id, query, response.status_code)
    assert response.mimetype == "application/json"
    assert isinstance(response.get_json(), dict)


# ----- access --------------------------------------------------------------------------------------------

DATA_PATHS = ["/", "/services", "/organizations", "/service_at_locations", "/taxonomies", "/taxonomy_terms"]


@pytest.mark.parametrize("path", DATA_PATHS)
def test_without_a_valid_token_every_path_answers_401_with_a_bearer_challenge(app, directory, path):
    """No token, a wrong one, a revoked one, a Basic header or a login session: 401 JSON with WWW-Authenticate:
    Bearer — never a redirect to the login page; a valid token: 200."""
    revoked = make_token(app, "Revoked system")
    with app.app_context():
        from csrn.hsds.access import revoke_token

        assert revoke_token(None, "Revoked system", NOW) is not None
    client = app.test_client()
    for headers in ({}, bearer("wrong"), bearer(revoked), {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer"}, {"HX-Request": "true"}):
        response = client.get(f"{API}{path}", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.mimetype == "application/json" and response.get_json()["status"] == 401
        assert "Location" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.cache_control.no_store
    assert 'error="invalid_token"' in client.get(f"{API}{path}", headers=bearer(revoked)).headers["WWW-Authenticate"]
    assert client.get(f"{API}{path}", headers=bearer(make_token(app))).status_code == 200


def test_a_token_records_its_last_use(app, directory):
    """The token's last use is recorded (to the minute); listing never shows the token itself."""
    raw = make_token(app, "Partner 211")
    with app.app_context():
        assert db.session.scalar(select(AccessToken.last_used_at).where(AccessToken.name == "Partner 211")) is None
    assert app.test_client().get(f"{API}/services", headers=bearer(raw)).status_code == 200
    with app.app_context():
        token = db.session.scalar(select(AccessToken).where(AccessToken.name == "Partner 211"))
        assert token.last_used_at is not None and token.purpose == API_PURPOSE and token.user_id is None
        assert raw not in (token.token_hash, token.name)


def test_the_public_setting_opens_the_api_to_all(app, directory):
    """With the setting on, no token is needed (a wrong one is still refused); off again, 401."""
    client = app.test_client()
    set_public(app, True)
    for path in DATA_PATHS:
        assert client.get(f"{API}{path}").status_code == 200, path
    assert client.get(f"{API}/services", headers=bearer("wrong")).status_code == 401
    document = client.get(f"{API}/openapi.json").get_json()
    assert {} in document["security"]
    set_public(app, False)
    assert client.get(f"{API}/services").status_code == 401


def test_the_rate_limit_is_per_token(app, directory, monkeypatch):
    """Past the limit a token gets 429 JSON; another token is not affected; without a token (public), the limit
    is per address."""
    monkeypatch.setitem(app.config, "HSDS_API_RATE_LIMIT", "3 per minute")
    first, second = make_token(app), make_token(app)
    client = app.test_client()
    assert [client.get(f"{API}/services", headers=bearer(first)).status_code for _ in range(3)] == [200] * 3
    refused = client.get(f"{API}/taxonomies", headers=bearer(first))  # one limit over every path
    assert refused.status_code == 429 and refused.get_json()["status"] == 429
    assert client.get(f"{API}/services", headers=bearer(second)).status_code == 200
    set_public(app, True)
    assert [client.get(f"{API}/services").status_code for _ in range(4)] == [200, 200, 200, 429]
    other_address = client.get(f"{API}/services", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other_address.status_code == 200


def test_the_openapi_document_is_the_official_one_with_local_references(app, directory):
    """The served document: the official paths, no reference to the specification's repository left, every
    reference served by the app, this server's URL and the bearer scheme; open to all, as its schemas are."""
    client = app.test_client()
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "raw.githubusercontent.com" not in text and REMOTE_SCHEMAS not in text
    document = json.loads(text)
    assert document["openapi"] == "3.1.0"
    assert document["servers"][0]["url"] == app.config["CSRN_BASE_URL"].rstrip("/") + API
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"][
            "bearerAuth"]["description"]}
    assert document["security"][0] == {"bearerAuth": []}
    refs = set(re.findall(r'"\$ref": "([^"#][^"]*)"', text))
    assert refs and all(ref.startswith(f"{API}/schema/") for ref in refs)
    nested = {f"{API}/schema/taxonomy.json", f"{API}/schema/metadata.json"}  # taxonomy_term.json's references
    for ref in refs | nested:
        schema = client.get(ref)
        assert schema.status_code == 200 and json.loads(schema.get_data())["type"] == "object", ref
    assert client.get(f"{API}/schema/../openapi.json").status_code == 404
    assert client.get(f"{API}/schema/compiled/tabular.json").status_code == 404
    assert "REQUIRED --" not in text


def test_list_pages_ask_the_database_the_same_number_of_times_whatever_their_size(app, directory, token):
    """No query per item: a page of 2 services and a page of 50 cost the same number of queries."""
    client = app.test_client()

    def queries(path: str, per_page: int) -> int:
        statements = []

        def count(*_args):
            statements.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(f"{API}{path}", query_string={"per_page": per_page},
                              headers=bearer(token)).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    for path in ("/services", "/organizations", "/service_at_locations"):
        queries(path, 2)  # warm: the settings row and the token's last use
        assert queries(path, 2) == queries(path, 50), path


# ----- the admin page ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("roles, status", [(("admin",), 200), (("chair",), 403), (("case_manager",), 403),
                                           (("agency_admin",), 403), (("staff", "case_manager", "agency_admin"),
                                                                       403)])
def test_only_admins_reach_the_token_page(app, login_as, roles, status):
    """/admin/api-tokens/ is the admins'; every other role gets 403 on the page and its actions."""
    user = login_as(roles=roles)
    assert user.get("/admin/api-tokens/").status_code == status
    if status == 403:
        token = csrf_from(user.get("/").get_data(as_text=True))
        response = user.client.post("/admin/api-tokens/", data={"csrf_token": token, "name": "Sneaky"})
        assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_login_from_the_token_page(client):
    response = client.get("/admin/api-tokens/")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def test_an_admin_issues_a_token_shown_once_and_revokes_it_after_confirming(app, directory, login_as):
    """Issue: the answer shows the token (it works), the page never again; revoke: a confirmation page, then the
    token answers 401; both audited; the admin menu links the page."""
    admin = login_as(roles=("admin",))
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    assert "No token has been issued yet" in page or "<table>" in page
    assert 'href="/admin/api-tokens/"' in admin.get("/").get_data(as_text=True)
    response = admin.post("/admin/api-tokens/", {"name": "Riverton 211"}, page="/admin/api-tokens/")
    assert response.status_code == 200
    raw = re.search(r'<code class="secret">([A-Za-z0-9_-]{40,})</code>', response.get_data(as_text=True)).group(1)
    client = app.test_client()
    assert client.get(f"{API}/services", headers=bearer(raw)).status_code == 200
    listing = admin.get("/admin/api-tokens/").get_data(as_text=True)
    assert "Riverton 211" in listing and raw not in listing
    again = admin.post("/admin/api-tokens/", {"name": "Riverton 211"}, page="/admin/api-tokens/")
    assert again.status_code == 422 and "revoke it first" in again.get_data(as_text=True)
    with app.app_context():
        token = db.session.scalar(select(AccessToken).where(AccessToken.name == "Riverton 211"))
        token_id = token.id
        assert token.created_by_id == admin.user.id
    confirm = admin.get(f"/admin/api-tokens/{token_id}/revoke")
    assert confirm.status_code == 200 and "Revoke the API token" in confirm.get_data(as_text=True)
    assert client.get(f"{API}/services", headers=bearer(raw)).status_code == 200  # the GET changed nothing
    done = admin.post(f"/admin/api-tokens/{token_id}/revoke", page=f"/admin/api-tokens/{token_id}/revoke")
    assert done.status_code == 303
    assert client.get(f"{API}/services", headers=bearer(raw)).status_code == 401
    assert admin.get(f"/admin/api-tokens/{token_id + 1000}/revoke").status_code == 404
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action, AuditEvent.object_id, AuditEvent.actor_id).where(
            AuditEvent.action.like("api_token.%")).order_by(AuditEvent.id)).all()
    assert [(a, o, u) for a, o, u in actions] == [("api_token.issued", str(token_id), admin.user.id),
                                                  ("api_token.revoked", str(token_id), admin.user.id)]


def test_an_admin_opens_the_api_to_all_and_it_is_audited(app, directory, login_as):
    """The public setting: a POST with CSRF, audited as a settings change."""
    admin = login_as(roles=("admin",))
    client = app.test_client()
    assert client.get(f"{API}/services").status_code == 401
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"|type="hidden" name="version" value="(\d+)"',
                        page) or re.search(r'id="version"[^>]*value="(\d+)"', page)
    assert version is not None, page
    value = next(group for group in version.groups() if group)
    no_csrf = admin.client.post("/admin/api-tokens/public", data={"public": "y", "version": value})
    assert no_csrf.status_code == 400
    response = admin.post("/admin/api-tokens/public", {"public": "y", "version": value}, page="/admin/api-tokens/")
    assert response.status_code == 303
    assert client.get(f"{API}/services").status_code == 200
    with app.app_context():
        event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.update")
                                   .order_by(AuditEvent.id.desc()))
        assert event_.fields == "hsds_api_public" and event_.actor_id == admin.user.id


# ----- the command line ----------------------------------------------------------------------------------------

def test_the_cli_creates_and_revokes_a_token(app, directory, runner):
    """`csrn api-token create NAME` prints a working token; `revoke NAME` stops it; both audited."""
    created = runner.invoke(args=["csrn", "api-token", "create", "County 211"])
    assert created.exit_code == 0, created.output
    raw = created.output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", raw)
    client = app.test_client()
    assert client.get(f"{API}/services", headers=bearer(raw)).status_code == 200
    taken = runner.invoke(args=["csrn", "api-token", "create", "County 211"])
    assert taken.exit_code != 0 and "revoke it first" in taken.output
    revoked = runner.invoke(args=["csrn", "api-token", "revoke", "County 211"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get(f"{API}/services", headers=bearer(raw)).status_code == 401
    missing = runner.invoke(args=["csrn", "api-token", "revoke", "County 211"])
    assert missing.exit_code != 0 and "No live API token" in missing.output
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("api_token.%"))
                                     .order_by(AuditEvent.id)).all()
    assert actions == ["api_token.issued", "api_token.revoked"]


# ----- a hostile directory ---------------------------------------------------------------------------------

def test_every_payload_in_the_directory_still_answers_valid_json(app, directory, token):
    """SECURITY V3/H3 for the API: the corpus in every text the API reads (names, descriptions, websites,
    addresses, how to refer, counties, languages) and as every search: 200 (or 400 for a search it refuses),
    never a 500; every answer still valid against its schema (a website that is not an http(s) link is left out)."""
    from tests.corpus import PAYLOADS, fit, storable

    with app.app_context():
        dialect = db.engine.dialect.name
        payloads = [storable(payload, dialect) for payload in PAYLOADS]
        agencies = db.session.scalars(select(Agency).order_by(Agency.id)).all()
        for i, agency in enumerate(agencies):
            payload = payloads[i % len(payloads)]
            agency.name, agency.description = fit(payload, 200) or "x", payload
            agency.website, agency.phone = fit(payloads[(i + 1) % len(payloads)], 500), fit(payload, 40)
        for i, service in enumerate(db.session.scalars(select(Service).order_by(Service.id))):
            payload = payloads[(i + 2) % len(payloads)]
            service.name, service.description, service.how_to_refer = fit(payload, 200), payload, payload
            service.set_values("county", [fit(payload, 100)])
            service.set_values("language", [fit(payloads[(i + 3) % len(payloads)], 100)])
        for i, location in enumerate(db.session.scalars(select(Location).where(Location.visibility == "public"))):
            payload = payloads[(i + 4) % len(payloads)]
            location.name, location.address_1, location.city = fit(payload, 200), payload, fit(payload, 100)
        db.session.commit()
    client = Client(app.test_client(), bearer(token))
    problems = []
    for path, _, _ in client.operations():
        if "{id}" in path or path == "/":
            continue
        for item in every_item(client, path)[:40]:
            detail = f"{path}/{{id}}"
            response = client.get(detail.replace("{id}", item["id"]))
            assert response.status_code == 200, (detail, item["id"])
            problems += client.check(detail, response.get_json())
        problems += client.check(path, client.get(path, per_page=MAX_PER_PAGE).get_json())
        for payload in PAYLOADS:
            response = client.get(path, search=payload)
            assert response.status_code in (200, 400), (path, payload[:40], response.status_code)
            assert response.mimetype == "application/json"
    assert not problems, "\n".join(problems[:30])
