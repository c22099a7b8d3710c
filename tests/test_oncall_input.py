"""Odd input to the roster's forms (the security review's findings): a new kind saves, huge ids and far dates are
messages not 500s, the skipped spring hour is named, and shifts only for kinds in use and agencies in the network."""

from __future__ import annotations

from datetime import date, time

import pytest

from csrn.extensions import db
from csrn.oncall import operations as ops
from csrn.oncall.models import ResponseKind
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW
from tests.referral_factories import make_chair, new_agency, type_id


def test_a_chair_creates_a_kind_through_the_page(login_as, app):
    """POST /oncall/kinds/new saves the kind with its service types (it used to answer 500)."""
    chair = login_as(roles=("chair",))
    with app.app_context():
        case_management = type_id("case_management")
    response = chair.post("/oncall/kinds/new", {"name": "Night crisis line", "required_24_7": "y",
                                                "service_type_ids": [str(case_management)], "position": "1",
                                                "active": "y"}, page="/oncall/kinds/new")
    assert response.status_code == 303
    with app.app_context():
        kind = db.session.scalar(db.select(ResponseKind).where(ResponseKind.name == "Night crisis line"))
        assert kind.required_24_7 and [t.id for t in kind.service_types] == [case_management]


def values(agency_id, kind_id, **extra) -> dict:
    """A one-off shift's answers."""
    return {"agency_id": agency_id, "kind_id": kind_id, "display_name": "Desk", "phone": "555 0100",
            "role": "primary", "pattern": "once", "start_date": date(2026, 12, 1), "start_time": time(8),
            "end_date": date(2026, 12, 1), "end_time": time(16), **extra}


@pytest.fixture
def roster(ctx):
    """A chair, an agency of the network and a kind in use."""
    kind = ResponseKind(name="Input kind", required_24_7=True, created_at=NOW, updated_at=NOW)
    db.session.add(kind)
    db.session.commit()
    return make_chair(), new_agency("Input agency"), kind


@pytest.mark.parametrize("field", ["agency_id", "kind_id", "user_id"])
def test_huge_ids_in_the_shift_form_are_refused_with_a_message(roster, field):
    """An id beyond what the columns hold is "not found", never an overflow."""
    chair, agency, kind = roster
    with pytest.raises(ops.ShiftError):
        ops.save_shift(chair, None, {**values(agency.id, kind.id), field: 10**20}, None, NOW)


def in_chicago() -> None:
    """The task force's zone: America/Chicago (the tests' default is UTC)."""
    db.session.add(TaskForceSettings(id=1, timezone="America/Chicago"))
    db.session.commit()


def test_a_date_at_the_end_of_the_calendar_is_a_message(roster):
    """23:00 on 31 December 9999 in Chicago is past the last instant Python can hold in UTC."""
    chair, agency, kind = roster
    in_chicago()
    with pytest.raises(ops.ShiftError, match="within the next few years"):
        ops.save_shift(chair, None, values(agency.id, kind.id, start_date=date(9999, 12, 31), start_time=time(23),
                                           end_date=date(9999, 12, 31), end_time=time(23, 30)), None, NOW)


def test_times_in_the_skipped_spring_hour_are_named(roster):
    """02:10–02:50 on the night Chicago's clocks go forward does not exist: said so, not "ends before it starts"."""
    chair, agency, kind = roster
    in_chicago()
    with pytest.raises(ops.ShiftError, match="clocks go forward"):
        ops.save_shift(chair, None, values(agency.id, kind.id, start_date=date(2027, 3, 14), start_time=time(2, 10),
                                           end_date=date(2027, 3, 14), end_time=time(2, 50)), None, NOW)


def test_shifts_only_for_kinds_in_use_and_agencies_in_the_network(roster):
    chair, agency, kind = roster
    kind.active = False
    db.session.commit()
    with pytest.raises(ops.ShiftError, match="in use"):
        ops.save_shift(chair, None, values(agency.id, kind.id), None, NOW)
    kind.active = True
    for status in ("listed", "suspended"):
        other = new_agency(f"A {status} agency", membership_status=status)
        with pytest.raises(ops.ShiftError, match="not a suspended one"):
            ops.save_shift(chair, None, values(other.id, kind.id), None, NOW)
    assert ops.save_shift(chair, None, values(agency.id, kind.id), None, NOW).id is not None
