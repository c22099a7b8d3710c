"""The directory exported as an HSDS 3.0 data package: every table of the official package with its official
columns; every row valid against the official row schemas (`tabular.json`, by jsonschema) and every reference
pointing at a row that is there; public only — no confidential or members-only address, no pro bono volunteer, no
internal note or point of contact; what went in comes out, field by field; audited."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

import csrn.demo
from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.directory.models import Location, Service
from csrn.extensions import db
from csrn.hsds.export import SPEC, package_resources
from tests.conftest import NOW

CONFIDENTIAL = "17 Hidden Refuge Lane"
MEMBERS_ONLY = "2 Members Only Court"
NOTE = "INTERNALNOTE-Q7"


@pytest.fixture
def package(app, runner, monkeypatch, tmp_path) -> tuple[Path, dict]:
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    with app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
        agency = db.session.scalar(select(Agency).where(Agency.membership_status == "member",
                                                        Agency.vetting_required.is_(False)).order_by(Agency.id))
        agency.internal_notes = NOTE
        for name, address, visibility in (("Safe house", CONFIDENTIAL, "confidential"),
                                          ("Staff office", MEMBERS_ONLY, "members")):
            db.session.add(Location(agency_id=agency.id, name=name, address_1=address, city="Riverton",
                                    state="IL", postal_code="60000", visibility=visibility, created_at=NOW,
                                    updated_at=NOW))
        volunteers = db.session.scalars(select(Agency.name).where(Agency.vetting_required.is_(True))).all()
        assert volunteers
        db.session.commit()
        expected = {"agency": agency.uuid, "volunteers": volunteers, "poc": agency.poc_email}
    folder = tmp_path / "hsds"
    result = runner.invoke(args=["csrn", "export-hsds", str(folder)])
    assert result.exit_code == 0, result.output
    assert "HSDS 3.0 package written" in result.output
    return folder, expected


def _rows(folder: Path, resource: dict) -> list[dict]:
    with open(folder / resource["path"], newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [field["name"] for field in resource["schema"]["fields"]], resource["name"]
        return list(reader)


def _typed(row: dict, schema: dict) -> dict:
    """A CSV row as the JSON object the row schema describes: empty cells absent, numbers as numbers."""
    found = {}
    for name, value in row.items():
        if value == "":
            continue
        kind = schema["properties"].get(name, {}).get("type")
        found[name] = float(value) if kind == "number" else int(value) if kind == "integer" else value
    return found


def test_every_row_validates_against_the_official_schemas_and_every_reference_holds(package):
    folder, _ = package
    schemas = json.loads((SPEC / "compiled" / "tabular.json").read_text(encoding="utf-8"))["properties"]
    tables = {}
    for resource in package_resources():
        schema = schemas[resource["name"]]["items"]
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        tables[resource["name"]] = rows = [_typed(row, schema) for row in _rows(folder, resource)]
        for row in rows:
            errors = [error.message for error in validator.iter_errors(row)]
            assert not errors, (resource["name"], row, errors)
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)), resource["name"]
    assert tables["organization"] and tables["service"] and tables["location"] and tables["schedule"]
    ids = {name: {row["id"] for row in rows} for name, rows in tables.items()}
    for service in tables["service"]:
        assert service["organization_id"] in ids["organization"]
    for link in tables["service_at_location"]:
        assert link["service_id"] in ids["service"] and link["location_id"] in ids["location"]
    for address in tables["address"]:
        assert address["location_id"] in ids["location"]
    for attribute in tables["attribute"]:
        assert attribute["taxonomy_term_id"] in ids["taxonomy_term"]
        assert attribute["link_id"] in ids[attribute["link_entity"]]
    for name in ("schedule", "language", "service_area"):
        assert all(row["service_id"] in ids["service"] for row in tables[name]), name
    assert json.loads((folder / "datapackage.json").read_text())["name"] == "human_services_data"


def test_only_the_public_directory_goes_out(package):
    folder, expected = package
    everything = "".join(path.read_text(encoding="utf-8") for path in folder.iterdir())
    for hidden in (CONFIDENTIAL, MEMBERS_ONLY, NOTE, *expected["volunteers"]):
        assert hidden not in everything, hidden
    if expected["poc"]:
        assert expected["poc"] not in everything


def test_what_went_in_comes_out_field_by_field(app, package):
    folder, _ = package
    resources = {resource["name"]: resource for resource in package_resources()}
    services = {row["id"]: row for row in _rows(folder, resources["service"])}
    schedules = _rows(folder, resources["schedule"])
    languages = _rows(folder, resources["language"])
    with app.app_context():
        for service in db.session.scalars(select(Service).join(Agency).where(
                Agency.membership_status.in_(("member", "listed")), Agency.vetting_required.is_(False))):
            row = services[service.uuid]
            assert row["name"] == service.title and row["organization_id"] == service.agency.uuid
            assert row["status"] == ("active" if service.status == "active" else "inactive")
            if "minor" in service.values("age") and len(service.values("age")) == 1:
                assert row["maximum_age"] == "17" and "Minor" in row["eligibility_description"]
            if service.is_24_7:
                assert any(s["service_id"] == service.uuid and s["byday"] == "MO,TU,WE,TH,FR,SA,SU"
                           and s["opens_at"] == "00:00" for s in schedules)
            assert sorted(x["code"] for x in languages if x["service_id"] == service.uuid) == sorted(
                service.values("language"))
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "hsds.exported"))


def test_the_export_refuses_a_folder_that_is_not_empty(runner, tmp_path):
    (tmp_path / "something.csv").write_text("x")
    result = runner.invoke(args=["csrn", "export-hsds", str(tmp_path)])
    assert result.exit_code != 0 and "not empty" in result.output
