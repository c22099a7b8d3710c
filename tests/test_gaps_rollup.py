"""The demand report's daily roll-up: every figure is the same read from the roll-up as read from the records, over
periods that cut months at either end, lie inside one month or before any record; what happens today still shows;
the roll-up counts each day once, carries on where it stopped, and never counts a drill."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from csrn.cli import daily_summaries
from csrn.extensions import db
from csrn.gaps import demand, review, rollup
from csrn.gaps import operations as gap_ops
from csrn.gaps.models import AcceptanceTime, DemandCount, RollupMark
from csrn.referrals import operations as referral_ops
from tests.conftest import NOW
from tests.referral_factories import make_provider, make_sender, send_intake

AGES = ("minor", "18_24", "25_plus", "unknown")
GENDERS = ("female", "male", "unknown")
LANGUAGES = (["en"], ["es"], ["en", "es"], ["vi"], ["ar", "en"])
NEEDS = (["case_management"], ["case_management", "dental"], ["case_management", "legal_immigration"])


def _local(day: date):
    return demand._instant(day)


@pytest.fixture
def history(app):
    """Intakes over the 90 days before NOW (at local times near midnight too), some accepted after a few hours, some
    declined, some left to escalate; and one drill."""
    with app.app_context():
        rng = random.Random(2026)
        providers = [make_provider(f"Harbor {n}", case_managers=1) for n in range(3)]
        sender = make_sender()
        for n in range(36):
            day = (NOW - timedelta(days=rng.randint(1, 90))).date()
            at = _local(day) + timedelta(minutes=rng.choice((5, 600, 1435)))  # just after and before midnight
            provider = providers[n % 3]
            referral = send_intake(sender, at, receiver=provider.agency_id, age_group=rng.choice(AGES),
                                   gender=rng.choice(GENDERS), languages=rng.choice(LANGUAGES),
                                   needs=rng.choice(NEEDS), citizenship=rng.choice(("us", "foreign", "unknown")))
            if n % 4 == 0:
                referral_ops.accept(provider.case_manager, referral, at + timedelta(minutes=rng.randint(3, 900)))
            elif n % 4 == 1:
                referral_ops.decline(provider.case_manager, referral, rng.choice(("no_capacity", "not_eligible")),
                                     "", at + timedelta(minutes=30))
            elif n % 4 == 2:
                referral_ops.escalation_pass(at + timedelta(days=2))
        drill = send_intake(sender, NOW - timedelta(days=10), receiver=providers[0].agency_id, needs=["dental"])
        drill.is_drill = True
        drill.intake.is_drill = True
        db.session.commit()
        return providers


def figures(period: demand.Period) -> dict:
    """Every figure of the demand report, the map's top languages and the review's largest gaps, as numbers."""
    g.pop("gaps_cache", None)
    return {
        "tables": [(t.key, t.rows, t.columns, t.counts) for t in demand.all_tables(period)],
        "trends": {name: [(month, shown.text) for month, shown in demand.monthly(name, period)]
                   for name in demand.TRENDS},
        "percentiles": {group: {key: tuple(round(v, 6) for v in values)
                                for key, values in demand.percentiles(group, period).items()}
                        for group in demand.GROUPS},
        "languages": gap_ops.top_languages(_local(period.last) + timedelta(hours=12)),
        "review": [(row.service, row.needs.text, row.unmet.text) for row in review.largest_gaps(period, NOW)],
    }


PERIODS = [
    demand.Period((NOW - timedelta(days=100)).date(), NOW.date()),  # cuts a month at either end
    demand.Period(date(2026, 10, 1), date(2026, 10, 31)),  # one whole month
    demand.Period(date(2026, 10, 9), date(2026, 10, 20)),  # inside one month
    demand.Period(date(2026, 9, 30), date(2026, 11, 1)),  # a day either side of a whole month
    demand.Period(date(2025, 1, 1), date(2025, 3, 31)),  # before any record
]


def test_every_figure_is_the_same_from_the_roll_up(app, history):
    with app.test_request_context("/"):
        assert demand.rolled_through() is None
        from_records = {period: figures(period) for period in PERIODS}
        assert any(row for table in from_records[PERIODS[0]]["tables"] for row in table[3])  # something counted
        assert from_records[PERIODS[0]]["percentiles"]["agency"]
        summary = rollup.roll_up(NOW)
        assert demand.rolled_through() == NOW.date() - timedelta(days=1)
        assert "rolled up" in summary
        assert db.session.scalar(select(func.count()).select_from(DemandCount).where(DemandCount.grain == "month"))
        assert db.session.scalar(select(func.count()).select_from(AcceptanceTime))
        for period in PERIODS:
            assert figures(period) == from_records[period], period


def test_today_is_read_from_the_records_and_each_day_counted_once(app, history):
    with app.test_request_context("/"):
        rollup.roll_up(NOW)
        rows = db.session.scalar(select(func.count()).select_from(DemandCount))
        assert "0 day(s)" in rollup.roll_up(NOW)  # again the same day: nothing more
        assert db.session.scalar(select(func.count()).select_from(DemandCount)) == rows
        period = demand.Period((NOW - timedelta(days=30)).date(), NOW.date())
        before = figures(period)
        sender = make_sender(name="Late sender")
        send_intake(sender, NOW, needs=["case_management", "dental"], languages=["vi"])
        after = figures(period)
        needs = {t[0]: t for t in after["tables"]}["needs-age_group"]
        assert sum(map(sum, needs[3])) == sum(map(sum, {t[0]: t for t in before["tables"]}["needs-age_group"][3])) + 2
        # The next night counts today, once; the figures stay the same.
        assert "1 day(s)" in rollup.roll_up(NOW + timedelta(days=1))
        assert figures(period) == after


def test_the_roll_up_carries_on_from_its_mark_and_starts_at_the_first_record(app, history):
    with app.test_request_context("/"):
        rollup.roll_up(NOW - timedelta(days=40))
        first_mark = demand.rolled_through()
        assert first_mark == (NOW - timedelta(days=41)).date()
        first_day = db.session.scalar(select(func.min(DemandCount.start)).where(DemandCount.grain == "day"))
        assert first_day >= (NOW - timedelta(days=91)).date()
        rollup.roll_up(NOW)
        period = demand.Period((NOW - timedelta(days=95)).date(), NOW.date())
        rolled = figures(period)
        db.session.query(DemandCount).delete()
        db.session.query(AcceptanceTime).delete()
        db.session.query(RollupMark).delete()
        db.session.commit()
        assert figures(period) == rolled


def test_the_daily_job_rolls_up_and_drills_are_never_in_it(app, history):
    with app.test_request_context("/"):
        lines = list(daily_summaries(NOW))
        assert any(line.startswith("demand report roll-up: ") for line in lines)
        dental_drill_day = (NOW - timedelta(days=10)).date()
        dental = db.session.scalar(select(func.coalesce(func.sum(DemandCount.count), 0)).where(
            DemandCount.start == dental_drill_day, DemandCount.grain == "day", DemandCount.measure == "need"))
        from csrn.intake.models import Intake, IntakeNeed
        real = db.session.scalar(select(func.count()).select_from(IntakeNeed).join(Intake).where(
            Intake.is_drill.is_(False), Intake.created_at >= _local(dental_drill_day),
            Intake.created_at < _local(dental_drill_day + timedelta(days=1))))
        # Each need counted under "all" and under each of the four answers of the person.
        assert dental == 5 * real
