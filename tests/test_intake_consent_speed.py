"""The consent step (intake step 5) lists every member agency (issue 24: about 1,600 in the benchmark, and the step
was the intake's slowest by far). Its cost must not grow per agency beyond writing the box: the agencies are read as
plain rows in one SELECT (no ORM object each), drawn without a WTForms option field each, and a submission is checked
against a set. What the user can do and what is stored stay as they were.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from wtforms.fields.choices import SelectFieldBase

from csrn.agencies.models import Agency
from csrn.clock import utcnow
from csrn.extensions import db
from tests.conftest import NOW
from tests.directory_factories import set_settings
from tests.referral_factories import make_provider
from tests.test_intake_views import STEP5, answers, walk
from tests.test_page_speed import counted, shown

MANY = 300
BOX = re.compile(r'<input[^>]*name="consent_agencies" type="checkbox" value="(\d+)"')


@pytest.fixture
def providers(app):
    """Two receivable case-management providers (step 4 needs a receiver)."""
    set_settings(app, counties=["Alder", "Cedar"])
    with app.app_context():
        now = utcnow()
        return make_provider("Second Provider", now=now, open_slots=0), make_provider("Best Provider", now=now)


@pytest.fixture
def sender(app, login_as, create_agency):
    """A police officer, logged in."""
    return login_as(roles=("staff",), agency_id=create_agency(name="Riverton Police", agency_type="law_enforcement"))


def add_agencies(app, count: int, membership_status: str = "member", prefix: str = "Member") -> list[int]:
    """`count` agencies in one flush; their ids."""
    with app.app_context():
        agencies = [Agency(name=f"{prefix} {n:04d}", agency_type="victim_service_provider",
                           membership_status=membership_status, county="Alder", created_at=NOW, updated_at=NOW)
                    for n in range(count)]
        db.session.add_all(agencies)
        db.session.commit()
        return [agency.id for agency in agencies]


@contextmanager
def work_counted(app):
    """Count the SQL statements, the Agency objects loaded and the WTForms option fields built."""
    seen = {"agencies": 0, "options": 0}

    def loaded(target, context):
        seen["agencies"] += 1

    original = SelectFieldBase._Option.process

    def option_built(self, *args, **kwargs):
        seen["options"] += 1
        return original(self, *args, **kwargs)

    event.listen(Agency, "load", loaded)
    SelectFieldBase._Option.process = option_built
    try:
        with counted(app) as statements:
            seen["statements"] = statements
            yield seen
    finally:
        SelectFieldBase._Option.process = original
        event.remove(Agency, "load", loaded)


def test_step5_reads_no_agency_objects_and_builds_no_option_per_agency(app, providers, sender):
    """With 300 more member agencies the page and a submission cost the same statements, no Agency object per
    agency and no WTForms option per agency (before: one ORM object and two option fields per agency, each drawn
    through WTForms' widgets)."""
    draft_id = walk(sender, providers, through=4)
    url = f"/intake/{draft_id}/5"
    sender.get(url)
    with work_counted(app) as few:
        assert sender.get(url).status_code == 200
    add_agencies(app, MANY)
    with work_counted(app) as many:
        page = sender.get(url).get_data(as_text=True)
    assert len(BOX.findall(page)) >= MANY
    assert len(many["statements"]) == len(few["statements"]), shown(many["statements"])
    assert many["agencies"] <= 2 and many["options"] < 50, many  # the user's agency; step 5's short choice lists

    token = sender.token(url)
    with work_counted(app) as posted:
        response = sender.client.post(url, data={**STEP5, "csrf_token": token,
                                                 "consent_agencies": BOX.findall(page)[-3:]})
    assert response.status_code == 303
    assert len(posted["statements"]) <= len(few["statements"]) + 3, shown(posted["statements"])
    assert posted["agencies"] <= 2 and posted["options"] == 0, posted


def test_step5_lists_every_member_agency_by_name_and_only_members(app, providers, sender, create_agency):
    """Every member agency, in name order, each once, its name escaped; not listed, suspended or applicant ones."""
    members = add_agencies(app, 5)
    odd = create_agency(name='Zeta <b>"Shelter"</b> & Co')
    others = [create_agency(name=f"Other {status}", membership_status=status)
              for status in ("listed", "suspended", "applicant")]
    draft_id = walk(sender, providers, through=4)
    page = sender.get(f"/intake/{draft_id}/5").get_data(as_text=True)
    listed = [int(value) for value in BOX.findall(page)]
    with app.app_context():
        expected = [a.id for a in db.session.scalars(db.select(Agency).where(Agency.membership_status == "member")
                                                     .order_by(Agency.name, Agency.id))]
    assert listed == expected and set(members) | {odd} <= set(listed) and not set(others) & set(listed)
    assert f"Member agencies ({len(expected)})" in page
    assert "Zeta &lt;b&gt;&#34;Shelter&#34;&lt;/b&gt; &amp; Co" in page and "<b>" not in page
    assert re.search(r'<label for="consent_agencies-0" class="choice"><input id="consent_agencies-0" '
                     r'name="consent_agencies" type="checkbox" value="\d+"> ', page)
    assert '<details class="more-choices">' in page  # nothing ticked: closed


def test_named_agencies_are_stored_as_submitted_and_shown_ticked(app, providers, sender):
    """The ids are stored as ints in the order they were sent; the page then shows them ticked, by name, open."""
    first, second, third = add_agencies(app, 3)
    draft_id = walk(sender, providers, through=4)
    url = f"/intake/{draft_id}/5"
    response = sender.post(url, {**STEP5, "consent_agencies": [str(third), str(first)]})
    assert response.status_code == 303
    assert answers(app, draft_id)["consent_agencies"] == [third, first]
    page = sender.get(url).get_data(as_text=True)
    assert '<details class="more-choices" open>' in page and "Member 0000, Member 0002 ticked" in page
    ticked = re.findall(r'<input checked id="consent_agencies-\d+" name="consent_agencies" type="checkbox" '
                        r'value="(\d+)"', page)
    assert sorted(map(int, ticked)) == sorted([first, third])
    assert f'value="{second}"' in page and not re.search(rf'checked[^>]*value="{second}"', page)


@pytest.mark.parametrize("status", ["listed", "suspended", None])
def test_an_agency_outside_the_list_is_refused_and_nothing_is_saved(app, providers, sender, create_agency, status):
    """A listed or suspended agency's id, or one that does not exist, is refused (422, WTForms' message, the answers
    kept ticked); the draft keeps what it had."""
    member = add_agencies(app, 1)[0]
    outside = create_agency(name="Outside", membership_status=status) if status else 999_999
    draft_id = walk(sender, providers, through=4)
    before = answers(app, draft_id)
    response = sender.post(f"/intake/{draft_id}/5", {**STEP5, "consent_agencies": [str(member), str(outside)]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"&#39;{outside}&#39; is not a valid choice for this field." in page
    assert '<a href="#consent_agencies">Also these named agencies:' in page
    assert '<details class="more-choices" open>' in page and "Member 0000 ticked" in page
    assert answers(app, draft_id) == before


def test_a_value_that_is_not_a_number_is_refused(app, providers, sender):
    """A box's value that cannot be an id answers 422 with WTForms' message, as before."""
    draft_id = walk(sender, providers, through=4)
    response = sender.post(f"/intake/{draft_id}/5", {**STEP5, "consent_agencies": ["abc"]})
    assert response.status_code == 422
    assert "Invalid choice(s): one or more data inputs could not be coerced." in response.get_data(as_text=True)


def test_the_htmx_fragment_lists_the_agencies_too(app, providers, sender):
    """An in-place validation (htmx) re-renders the same list in the step's form alone, the ticks kept."""
    first = add_agencies(app, 2)[0]
    draft_id = walk(sender, providers, through=4)
    url = f"/intake/{draft_id}/5"
    response = sender.post(url, {"consent": "yes", "consent_agencies": [str(first)]}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<div id="step-area">') and "<html" not in page
    assert re.search(rf'<input checked id="consent_agencies-\d+" name="consent_agencies" type="checkbox" '
                     rf'value="{first}"', page)
