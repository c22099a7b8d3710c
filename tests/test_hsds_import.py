"""Importing HSDS 3.0 packages: the official examples import (dangling optional references as warnings); what went
in comes out of the export, valid against the official schemas; twice creates nothing new; a re-import keeps what
was edited in CSRN and a location's visibility; every bad package is refused whole, naming file, row and field; the
upload page for chairs and admins only; the command's exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import func, select

from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.directory.models import Location, Service, ServiceFacet, ServiceType
from csrn.extensions import db
from csrn.hsds.export import SPEC, package_resources
from csrn.hsds.importer import PackageRefused, import_package
from csrn.hsds.models import ImportedObject
from csrn.schedules.models import ScheduleRule
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW, csrf_from, page_text

DATA = Path(__file__).parent / "data" / "hsds"
ORG = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
SERVICE = "ac148810-d857-441c-9679-408f346de14b"
LOCATION = "3a19ff88-4620-4d17-9830-ac1d859eb5d5"
MODELS = (Agency, Service, Location, ServiceFacet, ScheduleRule, ImportedObject, ServiceType)


@pytest.fixture
def example(tmp_path) -> Path:
    """A copy of the official CSV example package, to change."""
    folder = tmp_path / "package"
    shutil.copytree(DATA / "csv", folder)
    return folder


def _counts(app) -> dict:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in MODELS}


def _import(app, path: Path | None = None, name: str = "", data: bytes | None = None):
    with app.app_context():
        return import_package(None, NOW, path=path, name=name, data=data)


def _refused(app, path: Path | None = None, name: str = "", data: bytes | None = None) -> str:
    before = _counts(app)
    with pytest.raises(PackageRefused) as refused:
        _import(app, path, name, data)
    assert _counts(app) == before, "a refused package must leave nothing behind"
    return "\n".join(refused.value.problems)


def _rewrite(path: Path, change) -> None:
    """Rewrite a CSV file of the package: change(rows) edits the list of dict rows in place."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames), list(reader)
    change(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _zip(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.name not in (extra or {}):
                archive.write(path, path.name)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


# ----- the official examples -------------------------------------------------------------------------------------

def test_the_official_csv_example_imports_with_warnings_for_dangling_optional_references(app):
    report = _import(app, DATA / "csv")
    assert [report.table(t).created for t in ("organization", "location", "service")] == [1, 1, 1]
    warnings = "\n".join(report.warnings)
    assert "organizations.csv row 2, field parent_organization_id" in warnings
    assert "locations.csv row 2, field organization_id" in warnings and "imported empty" in warnings
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.uuid == ORG))
        assert agency.name == "Example Organization Inc." and agency.membership_status == "listed"
        assert agency.agency_type == "community" and agency.website == "http://example.com"
        assert agency.phone == "+44 1234 234567"
        location = db.session.scalar(select(Location).where(Location.uuid == LOCATION))
        # Its organization_id points nowhere: it belongs to the organization of the service at it.
        assert location.agency_id == agency.id and location.visibility == "public"
        assert (location.name, location.address_1, location.address_2, location.city, location.state,
                location.postal_code, location.county) == ("MyCity Civic Center", "1-30 Main Street", "MyVillage",
                                                           "MyCity", "MyState", "ABC 1234", "MyRegion")
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert service.agency_id == agency.id and service.name == "Community Counselling"
        assert service.status == "active" and service.how_to_refer.startswith("If you are an NHS patient")
        assert service.values("age") == ["18_24", "25_plus", "minor"]  # 12 to 100 overlaps every group
        assert service.values("language") == ["ur"]
        assert service.values("interpretation") == ["pl", "ur"]  # the languages its text names (Slovak is not ours)
        assert sorted((r.weekday, r.opens.isoformat(), r.closes.isoformat()) for r in service.rules) == [
            (3, "10:00:00", "18:00:00"), (4, "10:00:00", "18:00:00")]
        assert not service.is_24_7 and service.cost == "fee"
        assert service.service_type.code == "unclassified" and not service.service_type.active
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "hsds.imported"))
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "hsds.service_imported",
                                                             AuditEvent.object_id == str(service.id)))


@pytest.mark.parametrize("name", ["service_full.json", "organization_full.json", "service_list.json",
                                  "organization_list.json"])
def test_the_official_json_examples_import(app, name):
    report = _import(app, DATA / name)
    assert report.table("organization").created == 1
    assert any("parent_organization_id" in warning for warning in report.warnings)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.uuid == ORG))
        assert agency.membership_status == "listed"
        if name != "organization_list.json":
            service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
            assert service.agency_id == agency.id and service.name == "Community Counselling"
        if name.endswith("_full.json"):
            location = db.session.scalar(select(Location).where(Location.uuid == LOCATION))
            assert location.agency_id == agency.id and location.address_1 == "1-30 Main Street"
            assert service.values("language") == ["ur"] and len(service.rules) == 2


def test_a_zip_of_the_example_in_a_folder_imports(app, example):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in example.iterdir():
            archive.write(path, f"hsds-example/{path.name}")
    report = _import(app, name="example.zip", data=buffer.getvalue())
    assert report.table("service").created == 1


# ----- round trip ------------------------------------------------------------------------------------------------

def _typed(row: dict, schema: dict) -> dict:
    found = {}
    for name, value in row.items():
        if value == "":
            continue
        kind = schema["properties"].get(name, {}).get("type")
        found[name] = float(value) if kind == "number" else int(value) if kind == "integer" else value
    return found


def test_import_then_export_validates_and_keeps_what_went_in(app, runner, tmp_path):
    with app.app_context():
        settings = db.session.get(TaskForceSettings, 1) or TaskForceSettings(
            id=1, name="Task force", timezone="UTC", fallback_phone="", emergency_minutes=30, urgent_hours=4,
            routine_business_hours=48, retention_days=1095)
        settings.counties = ["Alder", "Birch Hollow"]
        db.session.add(settings)
        db.session.commit()
    package = tmp_path / "in"
    shutil.copytree(DATA / "csv", package)
    medical = "medical"
    _rewrite(package / "taxonomy_terms.csv", lambda rows: rows[0].update(code=medical, name="Medical"))
    _rewrite(package / "attributes.csv", lambda rows: rows[0].update(link_id=SERVICE, link_entity="service"))
    _rewrite(package / "service_areas.csv", lambda rows: rows[0].update(name="Birch Hollow County"))
    _rewrite(package / "services.csv", lambda rows: rows[0].update(minimum_age="", maximum_age="17"))
    _import(app, package)
    out = tmp_path / "out"
    result = runner.invoke(args=["csrn", "export-hsds", str(out)])
    assert result.exit_code == 0, result.output
    schemas = json.loads((SPEC / "compiled" / "tabular.json").read_text(encoding="utf-8"))["properties"]
    tables = {}
    for resource in package_resources():
        schema = schemas[resource["name"]]["items"]
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        with open(out / resource["path"], newline="", encoding="utf-8") as handle:
            rows = [_typed(row, schema) for row in csv.DictReader(handle)]
        for row in rows:
            assert not [e.message for e in validator.iter_errors(row)], (resource["name"], row)
        tables[resource["name"]] = rows
    original = {name: next(csv.DictReader(open(package / path, encoding="utf-8"))) for name, path in (
        ("organization", "organizations.csv"), ("service", "services.csv"), ("address", "addresses.csv"),
        ("location", "locations.csv"))}
    organization = next(row for row in tables["organization"] if row["id"] == ORG)
    for field in ("name", "description", "website"):
        assert organization[field] == original["organization"][field], field
    service = next(row for row in tables["service"] if row["id"] == SERVICE)
    for field in ("name", "organization_id", "status", "application_process"):
        assert service[field] == original["service"][field], field
    assert service["description"] == original["service"]["description"].strip()
    assert service.get("minimum_age") is None and service["maximum_age"] == 17
    location = next(row for row in tables["location"] if row["id"] == LOCATION)
    assert location["name"] == original["location"]["name"] and location["organization_id"] == ORG
    address = next(row for row in tables["address"] if row["location_id"] == LOCATION)
    for field in ("address_1", "address_2", "city", "state_province", "postal_code"):
        assert address[field] == original["address"][field], field
    assert address["region"] == original["address"]["region"]
    assert [(row["code"]) for row in tables["language"] if row["service_id"] == SERVICE] == ["ur"]
    assert sorted((row["byday"], row["opens_at"], row["closes_at"]) for row in tables["schedule"]
                  if row["service_id"] == SERVICE) == [("FR", "10:00", "18:00"), ("TH", "10:00", "18:00")]
    assert [row["name"] for row in tables["service_area"] if row["service_id"] == SERVICE] == ["Birch Hollow"]
    terms = {row["id"]: row for row in tables["taxonomy_term"]}
    linked = [terms[row["taxonomy_term_id"]] for row in tables["attribute"] if row["link_id"] == SERVICE]
    assert any(term["code"] == medical for term in linked)
    assert sorted(row["value"] for row in tables["attribute"]
                  if row["link_id"] == SERVICE and terms[row["taxonomy_term_id"]]["code"] == "csrn-age") == ["minor"]
    assert [row["value"] for row in tables["attribute"]
            if row["link_id"] == ORG and terms[row["taxonomy_term_id"]]["code"] == "csrn-agency-type"] == [
        "community"]


def test_an_export_of_ours_reimported_elsewhere_keeps_eligibility_capacity_and_24_7(app, tmp_path, runner,
                                                                                     create_agency):
    """CSRN's own attributes (eligibility, capacity, agency type) and 24/7 come back as they went out."""
    with app.app_context():
        agency_id = create_agency("Round Trip Shelter", agency_type="shelter_housing")
        types = {t.code: t for t in db.session.scalars(select(ServiceType))}
        service = Service(agency_id=agency_id, service_type_id=types["emergency_shelter"].id, name="Beds",
                          is_24_7=True, closed_on_holidays=False, open_slots=3, waitlist=2,
                          capacity_confirmed_at=NOW, created_at=NOW, updated_at=NOW)
        service.set_values("age", ["minor", "25_plus"])
        service.set_values("citizenship", ["foreign"])
        service.set_values("trafficking", ["labour"])
        service.set_values("gender", ["female"])
        db.session.add(service)
        db.session.commit()
        service_uuid = service.uuid
    out = tmp_path / "out"
    assert runner.invoke(args=["csrn", "export-hsds", str(out)]).exit_code == 0
    with app.app_context():
        # Another installation: the same package into a directory without these rows.
        db.session.execute(ServiceFacet.__table__.delete())
        db.session.execute(ScheduleRule.__table__.delete())
        db.session.execute(Service.__table__.delete())
        db.session.execute(Location.__table__.delete())
        # ... nor this agency: a package adds nothing to an agency made in CSRN (tests/test_hsds_import_review.py).
        db.session.execute(Agency.__table__.delete().where(Agency.id == agency_id))
        db.session.commit()
    _import(app, out)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == service_uuid))
        assert service.service_type.code == "emergency_shelter" and service.is_24_7 and not service.rules
        assert service.values("age") == ["25_plus", "minor"]
        assert (service.values("citizenship"), service.values("trafficking"), service.values("gender")) == (
            ["foreign"], ["labour"], ["female"])
        assert (service.open_slots, service.waitlist, service.capacity_confirmed_at) == (3, 2, NOW)
        assert service.agency.agency_type == "shelter_housing"


# ----- idempotence and edits in CSRN -----------------------------------------------------------------------------

def test_importing_twice_creates_nothing_new(app):
    _import(app, DATA / "csv")
    after_first = _counts(app)
    report = _import(app, DATA / "csv")
    assert _counts(app) == after_first
    assert report.created == 0
    assert [report.table(t).unchanged for t in ("organization", "location", "service")] == [1, 1, 1]
    report = _import(app, DATA / "service_full.json")
    assert _counts(app) == after_first and report.created == 0


def test_a_reimport_keeps_fields_edited_in_csrn_and_a_locations_visibility(app, example):
    _import(app, example)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        service.name = "Counselling (edited by the chair)"
        service.set_values("language", ["ur", "en"])
        location = db.session.scalar(select(Location).where(Location.uuid == LOCATION))
        location.visibility = "confidential"
        db.session.commit()
    _rewrite(example / "services.csv", lambda rows: rows[0].update(
        name="Community Counselling v2", description="New description.", minimum_age="18", maximum_age=""))
    _rewrite(example / "locations.csv", lambda rows: rows[0].update(name="New Civic Center"))
    report = _import(app, example)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert service.name == "Counselling (edited by the chair)"  # edited in CSRN: kept
        assert service.values("language") == ["en", "ur"]
        assert service.description == "New description."  # not edited: updated
        assert service.values("age") == ["18_24", "25_plus"]
        location = db.session.scalar(select(Location).where(Location.uuid == LOCATION))
        assert location.visibility == "confidential" and location.name == "New Civic Center"
    assert report.table("service").updated == 1 and report.table("service").kept == 1
    assert any("name" in line and "facet:language" in line for line in report.kept_fields)
    # Once more: the CSRN edits are still kept, nothing changes.
    report = _import(app, example)
    assert report.table("service").updated == 0 and report.table("service").kept == 1


def test_an_object_deleted_in_csrn_is_not_brought_back(app, example):
    _import(app, example)
    with app.app_context():
        db.session.delete(db.session.scalar(select(Location).where(Location.uuid == LOCATION)))
        db.session.commit()
    report = _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(Location).where(Location.uuid == LOCATION)) is None
    assert report.table("location").kept == 1 and report.created == 0


def test_a_package_without_some_tables_leaves_those_fields_alone(app, example):
    _import(app, example)
    for name in ("schedules.csv", "languages.csv"):
        (example / name).unlink()
    _import(app, example)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert service.values("language") == ["ur"] and len(service.rules) == 2


# ----- mapping rules ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("minimum", "maximum", "groups"), [
    ("", "", []), ("0", "17", ["minor"]), ("", "17.5", ["minor"]), ("16", "18", ["18_24", "minor"]),
    ("18", "24", ["18_24"]), ("24", "", ["18_24", "25_plus"]), ("25", "", ["25_plus"]), ("30", "40", ["25_plus"]),
    ("5", "99", ["18_24", "25_plus", "minor"]),
])
def test_an_age_range_maps_to_every_group_it_overlaps(app, example, minimum, maximum, groups):
    _rewrite(example / "services.csv", lambda rows: rows[0].update(minimum_age=minimum, maximum_age=maximum))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(Service).where(Service.uuid == SERVICE)).values("age") == groups


def test_every_day_round_the_clock_is_24_7_and_types_match_by_code_then_name(app, example):
    def every_day(rows):
        rows[0].update(byday="MO,TU,WE,TH,FR,SA,SU", opens_at="00:00", closes_at="23:59", wkst="MO")
    _rewrite(example / "schedules.csv", every_day)
    _rewrite(example / "taxonomy_terms.csv", lambda rows: rows[0].update(code="X-1", name="mental health"))
    _rewrite(example / "attributes.csv", lambda rows: rows[0].update(link_id=SERVICE))
    _rewrite(example / "organizations.csv", lambda rows: rows[0].update(name="Line\r\nbreak\tOrg"))
    report = _import(app, example)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert service.is_24_7 and not service.rules and not service.closed_on_holidays
        assert service.service_type.code == "mental_health"
        assert db.session.scalar(select(Agency.name).where(Agency.uuid == ORG)) == "Line break Org"
    assert any("organizations.csv row 2, field name" in w and "one line" in w for w in report.warnings)


# ----- bad packages ----------------------------------------------------------------------------------------------

def _dangling(rows, field):
    rows[0][field] = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(("file", "change", "expected"), [
    ("services.csv", lambda rows: _dangling(rows, "organization_id"), "services.csv row 2, field organization_id"),
    ("service_at_location.csv", lambda rows: _dangling(rows, "service_id"),
     "service_at_location.csv row 2, field service_id"),
    ("service_at_location.csv", lambda rows: _dangling(rows, "location_id"),
     "service_at_location.csv row 2, field location_id"),
    ("organizations.csv", lambda rows: rows[0].update(name=""), "organizations.csv row 2, field name: missing"),
    ("services.csv", lambda rows: rows[0].update(minimum_age="twelve"), "services.csv row 2, field minimum_age"),
    ("services.csv", lambda rows: rows[0].update(status="open"), "services.csv row 2, field status"),
    ("locations.csv", lambda rows: rows[0].update(id="not-a-uuid"), "locations.csv row 2, field id"),
    ("schedules.csv", lambda rows: rows[0].update(opens_at="ten"), "schedules.csv row 2, field opens_at"),
    ("services.csv", lambda rows: rows.append(dict(rows[0])), "services.csv row 3, field id: duplicate"),
])
def test_a_bad_csv_package_is_refused_whole_naming_file_row_and_field(app, example, file, change, expected):
    _rewrite(example / file, change)
    assert expected in _refused(app, example)
    assert expected in _refused(app, name="package.zip", data=_zip(example))


@pytest.mark.parametrize(("content", "expected"), [
    (b"id,name,description\n00000000-0000-4000-8000-0000000000aa,Bad\x00Name,x\n",
     "organizations.csv row 2, field name: a NUL byte"),
    (b"id,name,description\n00000000-0000-4000-8000-0000000000aa,Caf\xe9,x\n",
     "organizations.csv row 2, field name: invalid UTF-8"),
])
def test_a_csv_with_a_nul_byte_or_invalid_utf8_is_refused(app, example, content, expected):
    (example / "organizations.csv").write_bytes(content + (example / "organizations.csv").read_bytes()
                                                .split(b"\n", 1)[1])
    assert expected in _refused(app, example)


def test_a_package_over_the_size_limit_is_refused(app, example, monkeypatch):
    monkeypatch.setitem(app.config, "HSDS_IMPORT_MAX_BYTES", 2000)
    assert "over the import limit" in _refused(app, example)
    assert "over the import limit" in _refused(app, name="big.json",
                                               data=(DATA / "organization_full.json").read_bytes())


@pytest.mark.parametrize("member", ["../evil.csv", "/etc/evil.csv", "sub/../../evil.csv", "C:/evil.csv"])
def test_a_zip_with_paths_that_leave_it_is_refused(app, example, member):
    problems = _refused(app, name="evil.zip", data=_zip(example, {member: b"x"}))
    assert "evil.zip" in problems and member in problems


def test_a_decompression_bomb_is_refused(app, example, monkeypatch):
    monkeypatch.setitem(app.config, "HSDS_IMPORT_MAX_BYTES", 1_000_000)
    bomb = _zip(example, {"phones.csv": b"0" * 5_000_000})
    assert len(bomb) < 100_000
    assert "unpacks to" in _refused(app, name="bomb.zip", data=bomb)
    # A member whose declared size lies is refused too (zipfile stops at the declared size and its CRC then fails;
    # the importer also counts what actually comes out).
    liar = bytearray(bomb)
    for header in (b"PK\x01\x02", b"PK\x03\x04"):
        start = 0
        while (start := liar.find(header, start)) != -1:
            offset = start + (24 if header == b"PK\x01\x02" else 22)
            if int.from_bytes(liar[offset:offset + 4], "little") == 5_000_000:
                liar[offset:offset + 4] = (100).to_bytes(4, "little")
            start += 4
    problems = _refused(app, name="liar.zip", data=bytes(liar))
    assert "liar.zip: phones.csv" in problems


def test_a_json_file_with_a_wrong_type_or_a_missing_reference_is_refused(app):
    data = json.loads((DATA / "service_full.json").read_text())
    data["name"] = 5
    assert "service_full.json service, field name: text was expected" in _refused(
        app, name="service_full.json", data=json.dumps(data).encode())
    data = json.loads((DATA / "service_full.json").read_text())
    del data["organization"]
    assert "field organization_id: missing" in _refused(app, name="service_full.json", data=json.dumps(data).encode())
    assert "not valid JSON" in _refused(app, name="broken.json", data=b'{"id": ')
    data = json.loads((DATA / "service_full.json").read_text())
    data["alert"] = "call\u0000us"
    assert "service_full.json service, field alert: a NUL byte" in _refused(
        app, name="service_full.json", data=json.dumps(data).encode())
    data = json.loads((DATA / "service_full.json").read_text())
    data["service_at_locations"][0]["location"]["id"] = data["id"]  # fine: ids are per table
    data["languages"].append(dict(data["languages"][0], name="Urdu (again)"))
    assert "given twice with different values" in _refused(app, name="service_full.json",
                                                           data=json.dumps(data).encode())


# ----- the upload page -------------------------------------------------------------------------------------------

def _upload(browser, data: bytes, name: str):
    page = browser.get("/hsds/import")
    return browser.client.post("/hsds/import", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "package": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


@pytest.mark.parametrize("role", ["chair", "admin"])
def test_chairs_and_admins_upload_a_package_and_see_the_report(app, login_as, role):
    browser = login_as(roles=(role,))
    page = browser.get("/hsds/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = _upload(browser, _zip(DATA / "csv"), "example.zip")
    assert response.status_code == 200
    text = page_text(response)
    assert "Imported example.zip" in text and "parent_organization_id" in text
    assert "service 1 1 0 0 0" in text  # read, created, updated, unchanged, kept
    assert "funding: 1 read (not kept by CSRN)" in text
    assert _counts(app)["Service"] >= 1
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "hsds.imported"))
        assert event.actor_id == browser.user.id
    again = _upload(browser, (DATA / "service_full.json").read_bytes(), "service_full.json")
    assert again.status_code == 200 and "Imported service_full.json" in page_text(again)


def test_a_refused_upload_says_why_and_imports_nothing(app, login_as, example):
    browser = login_as(roles=("chair",))
    _rewrite(example / "services.csv", lambda rows: _dangling(rows, "organization_id"))
    before = _counts(app)
    response = _upload(browser, _zip(example), "bad.zip")
    assert response.status_code == 422
    assert "nothing of bad.zip was imported" in page_text(response)
    assert "services.csv row 2, field organization_id" in page_text(response)
    assert _counts(app) == before
    assert _upload(browser, b"hello", "notes.txt").status_code == 422


def test_an_upload_without_a_file_asks_for_one(login_as):
    browser = login_as(roles=("chair",))
    response = browser.post("/hsds/import", {})
    assert response.status_code == 422 and "Choose a .zip or .json file." in page_text(response)


def test_the_upload_needs_its_csrf_token(login_as):
    browser = login_as(roles=("chair",))
    response = browser.client.post("/hsds/import", data={"package": (io.BytesIO(b"{}"), "x.json")},
                                   content_type="multipart/form-data")
    assert response.status_code == 400


def test_an_upload_over_the_request_limit_is_refused(app, login_as, monkeypatch):
    browser = login_as(roles=("chair",))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    assert _upload(browser, b"{" + b" " * 60_000 + b"}", "big.json").status_code == 413


@pytest.mark.parametrize("roles", [("case_manager",), ("agency_admin",), ("staff",)])
def test_others_may_not_import(app, login_as, roles):
    browser = login_as(roles=roles)
    assert browser.get("/hsds/import").status_code == 403
    assert _upload_without_page(browser).status_code in (400, 403)


def _upload_without_page(browser):
    token = browser.token("/")
    return browser.client.post("/hsds/import", data={"csrf_token": token, "package": (io.BytesIO(b"{}"), "x.json")},
                               content_type="multipart/form-data")


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/hsds/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_is_linked_for_chairs_and_admins_only(login_as):
    assert "/hsds/import" in login_as(roles=("chair",)).get("/").get_data(as_text=True)
    assert "/hsds/import" in login_as(roles=("admin",)).get("/").get_data(as_text=True)
    assert "/hsds/import" not in login_as(roles=("case_manager",)).get("/").get_data(as_text=True)


# ----- the command -----------------------------------------------------------------------------------------------

def test_the_command_imports_and_reports(app, runner):
    result = runner.invoke(args=["csrn", "import-hsds", str(DATA / "csv")])
    assert result.exit_code == 0, result.output
    assert "service: 1 read, 1 created" in result.output and "warning:" in result.output
    again = runner.invoke(args=["csrn", "import-hsds", str(DATA / "csv")])
    assert again.exit_code == 0 and "service: 1 read, 0 created, 0 updated, 1 unchanged" in again.output


def test_the_command_refuses_a_bad_package_with_exit_1(app, runner, example):
    _rewrite(example / "service_at_location.csv", lambda rows: _dangling(rows, "location_id"))
    before = _counts(app)
    result = runner.invoke(args=["csrn", "import-hsds", str(example)])
    assert result.exit_code == 1
    assert "Refused" in result.output and "service_at_location.csv row 2, field location_id" in result.output
    assert _counts(app) == before
    assert runner.invoke(args=["csrn", "import-hsds", str(example / "nope.zip")]).exit_code != 0


def test_our_own_export_imported_back_changes_nothing(app, runner, tmp_path, create_agency):
    """CSRN's own entries are never overwritten by a package (they were never imported): the same ids, kept."""
    with app.app_context():
        agency_id = create_agency("Own Agency", description="Ours")
        types = {t.code: t for t in db.session.scalars(select(ServiceType))}
        db.session.add(Service(agency_id=agency_id, service_type_id=types["medical"].id, name="Clinic",
                               created_at=NOW, updated_at=NOW))
        db.session.add(Location(agency_id=agency_id, name="Front door", address_1="1 Main St", city="Riverton",
                                state="IL", postal_code="60000", visibility="public", created_at=NOW,
                                updated_at=NOW))
        db.session.commit()
    out = tmp_path / "out"
    assert runner.invoke(args=["csrn", "export-hsds", str(out)]).exit_code == 0
    _rewrite(out / "services.csv", lambda rows: [row.update(name=row["name"] + " (changed elsewhere)")
                                                 for row in rows])
    before = _counts(app)
    with app.app_context():
        versions = {s.uuid: s.version for s in db.session.scalars(select(Service))}
    report = _import(app, out)
    assert report.created == 0 and report.table("service").updated == 0
    assert report.table("service").kept == len(versions)
    with app.app_context():
        assert {s.uuid: s.version for s in db.session.scalars(select(Service))} == versions
        assert db.session.scalar(select(Service.name).where(Service.name.like("%changed elsewhere%"))) is None
    after = _counts(app)
    assert {k: v for k, v in after.items() if k != "ImportedObject"} == {
        k: v for k, v in before.items() if k != "ImportedObject"}
