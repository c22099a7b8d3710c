"""Referrals at stress scale: 10,000 services, 100,000 referrals; the match, the inbox, the dashboard, escalation.

    .venv/bin/python bench/referrals_bench.py                 # SQLite file in a temporary directory
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/referrals_bench.py
    .venv/bin/python bench/referrals_bench.py --profile       # also print where the time goes (cProfile)

The directory comes from bench/directory_bench.py (2,000 agencies, 10,000 services, case management among
them at certified member agencies with current agreements); on top of it, 100,000 referrals with their
intakes, offers and timeline events are bulk-inserted: most closed or accepted, 4,000 pending offers spread
over the receiving agencies (one busy agency holds 50 of them), 1,000 of the pending offers past their
deadline. Identifying intake columns stay NULL (they are encrypted and never read by what is measured).

Measured in this process, on a fresh database (see directory_bench.py: a SQLite file, or a database of its
own on the BENCH_DATABASE_URL server, dropped afterwards):

1. the intake's match step for a person with five needs: `match_case_management` plus `unmet_needs`;
2. `GET /referrals/inbox` and `GET /` as a case manager of the busy agency, through the Flask test client
   logged in via the real login form (and, as a chair, `GET /`, whose dashboard also counts the queue, and the
   first page of `GET /referrals/queue`);
3. one `escalation_pass(now)` over the 1,000 overdue offers (wall time), and a second, idle one.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time as clock
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from csrn.agencies.models import Agency  # noqa: E402
from csrn.auth import operations as auth_ops  # noqa: E402
from csrn.auth.models import User  # noqa: E402
from csrn.directory import receiving  # noqa: E402
from csrn.directory.models import Service, ServiceType  # noqa: E402
from csrn.extensions import db  # noqa: E402
from csrn.intake import operations as intake_ops  # noqa: E402
from csrn.intake.models import Intake  # noqa: E402
from csrn.referrals import operations as referral_ops  # noqa: E402
from csrn.referrals.models import DECLINE_REASONS, OUTCOMES, Offer, Referral, ReferralEvent  # noqa: E402
from csrn.roles import CASE_MANAGER, CHAIR  # noqa: E402

REFERRALS = 100_000
PENDING = 4_000  # referrals with a pending offer
OVERDUE = 1_000  # of which past their deadline
BUSY_PENDING = 50  # pending offers to the busy agency (the inbox measured)
UNASSIGNED = 300
WITHDRAWN = 1_500
ACCEPTED = 9_000
IN_PROGRESS = 5_000  # the rest are closed
RUNS = 200
WARM_UP = 10
TARGET_MS = 50.0
TARGET_ESCALATION_S = 2.0
SEED = 20260309
NEEDS = ["case_management", "emergency_shelter", "medical", "immigration_legal", "mental_health"]
PEOPLE = [  # the match step's answers (five needs each), cycled through the runs
    dict(urgency="urgent", county="Cedar", age_group="25_plus", gender="female", citizenship="foreign",
         trafficking_type="labour", languages=["es"]),
    dict(urgency="emergency", county="Alder", age_group="18_24", gender="male", citizenship="us",
         trafficking_type="sex", languages=["en"]),
    dict(urgency="routine", county="Harlow", age_group="minor", gender="unknown", citizenship="unknown",
         trafficking_type="both", languages=[]),
    dict(urgency="urgent", county="Granite", age_group="unknown", gender="transgender", citizenship="foreign",
         trafficking_type="unknown", languages=["vi", "fr"]),
]
DURATION = {"emergency": timedelta(minutes=30), "urgent": timedelta(hours=4), "routine": timedelta(days=6)}


# ----- the data -----------------------------------------------------------------------------------

def directory_facts(now: datetime) -> dict:
    """What the referral generator needs to know about the directory directory_bench.fill just wrote."""
    type_ids = dict(db.session.execute(select(ServiceType.code, ServiceType.id)).all())
    cm = type_ids["case_management"]
    receivable = select(Agency.id).where(receiving.receivable_condition(cm, now))
    services = db.session.execute(
        select(Service.agency_id, func.min(Service.id))
        .where(Service.service_type_id == cm, Service.status == "active", Service.agency_id.in_(receivable))
        .group_by(Service.agency_id).order_by(Service.agency_id)).all()
    senders = db.session.execute(select(User.id, User.agency_id).where(User.agency_id.is_not(None))
                                 .order_by(User.id)).all()
    return {"case_management": cm, "type_codes": sorted(type_ids), "service_of": dict(services),
            "receivers": [agency_id for agency_id, _ in services], "senders": senders}


def referral_rows(rng: random.Random, now: datetime, facts: dict, busy: int) -> dict[str, list[dict]]:
    """Intakes, referrals, offers and events, with explicit ids (no round trips for foreign keys)."""
    receivers, service_of, senders = facts["receivers"], facts["service_of"], facts["senders"]
    others = [agency_id for agency_id in receivers if agency_id != busy]
    states = (["offered"] * PENDING + ["unassigned"] * UNASSIGNED + ["withdrawn"] * WITHDRAWN
              + ["accepted"] * ACCEPTED + ["in_progress"] * IN_PROGRESS)
    states += ["closed"] * (REFERRALS - len(states))
    rng.shuffle(states)
    pending_seen = 0
    rows: dict[str, list[dict]] = {"intake": [], "referral": [], "offer": [], "event": []}
    offer_id = 0
    for referral_id, state in enumerate(states, start=1):
        urgency = rng.choices(("emergency", "urgent", "routine"), (10, 25, 65))[0]
        user_id, sending_agency = rng.choice(senders)
        if state == "offered":
            # Pending: the first OVERDUE past their deadline, the rest still running; the busy agency gets
            # BUSY_PENDING of them (a quarter of those overdue too).
            overdue = pending_seen < OVERDUE
            to_busy = (pending_seen % (PENDING // BUSY_PENDING)) == 0
            pending_seen += 1
            deadline = (now - timedelta(minutes=rng.randint(1, 72 * 60)) if overdue
                        else now + timedelta(minutes=rng.randint(5, 72 * 60)))
            created = deadline - DURATION[urgency] - timedelta(hours=rng.randint(0, 30))
        else:
            to_busy = False
            created = now - timedelta(days=rng.uniform(3, 730))
        needs = ["case_management", *rng.sample(facts["type_codes"], rng.randint(0, 3))]
        person = rng.choice(PEOPLE)
        rows["intake"].append(dict(
            id=referral_id, uuid=str(uuid.uuid4()), submission_key=uuid.uuid4().hex, created_by_id=user_id,
            agency_id=sending_agency, created_at=created, is_drill=False, urgency=urgency, county=person["county"],
            age_group=person["age_group"], gender=person["gender"], citizenship=person["citizenship"],
            trafficking_type=person["trafficking_type"], languages_json=json.dumps(person["languages"]),
            interpreter_needed=False, considerations_json="[]", needs_json=json.dumps(sorted(set(needs))),
            do_not_text=False, phone_may_be_controlled=False))
        # The offer order: 0-2 earlier offers answered no, then the last one (or none left: unassigned).
        candidates = rng.sample(others, rng.randint(3, 5))
        earlier = rng.choice((0, 0, 0, 1, 1, 2))
        if to_busy:
            candidates.insert(earlier, busy)
        offered = candidates[:earlier + 1] if state != "unassigned" else candidates
        if state == "unassigned":
            earlier = len(candidates)
        events = [("created", created, sending_agency, "")]
        at = created
        escalated_at = None
        for position, agency_id in enumerate(offered):
            offer_id += 1
            last = position == earlier
            offered_at = at if not (last and state == "offered") else deadline - DURATION[urgency]
            row = dict(id=offer_id, referral_id=referral_id, agency_id=agency_id, service_id=service_of[agency_id],
                       offered_at=offered_at, deadline_at=offered_at + DURATION[urgency], answered_at=None,
                       answered_by_id=None, decline_reason="", decline_text="", offered_by_id=None)
            events.append(("offered", offered_at, agency_id, f"Offered to agency {agency_id}"))
            if not last:
                if rng.random() < 0.7:
                    at = offered_at + DURATION[urgency] * rng.uniform(0.05, 0.9)
                    row.update(state="declined", decline_reason=rng.choice(list(DECLINE_REASONS)),
                               decline_text="", answered_at=at)
                    events.append(("declined", at, agency_id, "Declined"))
                else:
                    at = row["deadline_at"]
                    row.update(state="expired", answered_at=at)
                    events.append(("expired", at, agency_id, "No answer before the deadline"))
                events.append(("escalated", at, None, "Escalated"))
                escalated_at = at
            elif state == "offered":
                row.update(state="pending", deadline_at=deadline)
            elif state == "withdrawn":
                at = offered_at + timedelta(hours=rng.randint(1, 20))
                row.update(state="withdrawn", answered_at=at)
                events.append(("withdrawn", at, sending_agency, "Withdrawn by the sender"))
            else:
                at = offered_at + DURATION[urgency] * rng.uniform(0.05, 0.9)
                row.update(state="accepted", answered_at=at)
                events.append(("accepted", at, agency_id, "Accepted"))
            rows["offer"].append(row)
        outcome = ""
        if state == "closed":
            outcome = rng.choice(list(OUTCOMES))
            at += timedelta(days=rng.randint(5, 120))
            events.append(("closed", at, offered[-1], "Closed"))
        elif state == "unassigned":
            events.append(("unassigned", at, None, "No candidate left to offer."))
        rows["referral"].append(dict(
            id=referral_id, uuid=str(uuid.uuid4()), intake_id=referral_id, service_type_id=facts["case_management"],
            sending_agency_id=sending_agency, created_by_id=user_id, urgency=urgency, state=state, outcome=outcome,
            accepted_agency_id=offered[-1] if state in ("accepted", "in_progress", "closed") else None,
            candidates_json=json.dumps(candidates), is_drill=False, created_at=created, updated_at=at,
            escalated_at=escalated_at if state != "unassigned" else at))
        rows["event"] += [dict(referral_id=referral_id, at=when, actor_id=None, agency_id=agency, kind=kind,
                               detail=detail) for kind, when, agency, detail in events]
    return rows


def fill_referrals(app, rng: random.Random, now: datetime) -> dict:
    """Bulk-insert the referrals over the directory; create the case manager of the busy agency and a chair."""
    with app.app_context():
        facts = directory_facts(now)
        busy = rng.choice(facts["receivers"])
        rows = referral_rows(rng, now, facts, busy)
        for model, key in ((Intake, "intake"), (Referral, "referral"), (Offer, "offer"), (ReferralEvent, "event")):
            directory.bulk(model, rows[key])
        db.session.commit()
        directory.settle(("intake", "referral", "offer"))
        manager = auth_ops.create_user(None, "bench-case-manager@example.org", "Bench Case Manager", [CASE_MANAGER],
                                       busy, now, password=directory.PASSWORD)
        chair = auth_ops.create_user(None, "bench-chair@example.org", "Bench Chair", [CHAIR], None, now,
                                     password=directory.PASSWORD)
        db.session.commit()
        result = {"manager": manager.email, "chair": chair.email, "busy": busy,
                  "receivers": len(facts["receivers"]), "counts": {key: len(value) for key, value in rows.items()},
                  "pending": sum(1 for o in rows["offer"] if o["state"] == "pending"),
                  "overdue": sum(1 for o in rows["offer"] if o["state"] == "pending" and o["deadline_at"] <= now),
                  "busy_pending": sum(1 for o in rows["offer"] if o["state"] == "pending" and o["agency_id"] == busy)}
        db.session.remove()
    return result


# ----- the measurement ------------------------------------------------------------------------------

def measure_match(app, counter, profiler: cProfile.Profile | None) -> tuple[list[float], list[int], str]:
    """The match step, as a fresh request would compute it: a new session each run."""
    times, statements, sizes = [], [], []
    with app.test_request_context("/"):
        for run in range(WARM_UP + RUNS):
            answers = {**PEOPLE[run % len(PEOPLE)], "needs": NEEDS}
            db.session.remove()
            now = datetime.now(UTC)
            before = counter.count
            if profiler and run >= WARM_UP:
                profiler.enable()
            started = clock.perf_counter()
            matches = intake_ops.match_case_management(answers, now)
            unmet = intake_ops.unmet_needs(answers, now)
            elapsed = clock.perf_counter() - started
            if profiler and run >= WARM_UP:
                profiler.disable()
            if run >= WARM_UP:
                times.append(elapsed * 1000)
                statements.append(counter.count - before)
                sizes.append((answers["urgency"], len(matches), len(unmet)))
        db.session.remove()
    shown = sorted(set(sizes))
    return times, statements, "; ".join(f"{u}: {m} matches, {n} unmet" for u, m, n in shown)


def measure_escalation(app, counter, profiler: cProfile.Profile | None, now: datetime) -> tuple[float, int, str]:
    """One escalation pass, wall time, inside a request context as `tick` has (links, config). `now` is the
    moment the data was generated for, so exactly the offers generated overdue are due, however long the
    measurements before took."""
    with app.test_request_context("/"):
        db.session.remove()
        before = counter.count
        if profiler:
            profiler.enable()
        started = clock.perf_counter()
        outcome = referral_ops.escalation_pass(now)
        elapsed = clock.perf_counter() - started
        if profiler:
            profiler.disable()
        statements = counter.count - before
        db.session.remove()
    return elapsed, statements, outcome


def p95(values: list[float]) -> float:
    return directory.p95(values)


def row(label: str, runs: int, median: float | None, high: float, unit: str, target: float, statements: float,
        note: str = "") -> str:
    shown_median = f"{median:8.1f}" if median is not None else " " * 8
    verdict = "ok" if high < target else "MISSES"
    return (f"  {label:<50} {runs:>4} {shown_median} {high:8.1f} {unit:<2}  < {target:g} {unit:<2} {verdict:<6} "
            f"{statements:>7,.0f}  {note}")


def print_profile(name: str, profiler: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"csrn/|templates/|\(execute|\(fetch", 30)
    stats.sort_stats("tottime").print_stats(15)
    print(f"\n----- profile: {name} (the app's own functions, then the busiest) -----")
    print(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    profilers: dict[str, cProfile.Profile] = {}

    def profiler_for(name: str) -> cProfile.Profile | None:
        if not args.profile:
            return None
        profilers[name] = cProfile.Profile()
        return profilers[name]

    with directory.bench_database() as (url, backend):
        started = clock.perf_counter()
        app = directory.build_app(url)
        migrated = clock.perf_counter()
        listing = directory.fill(app, random.Random(directory.SEED), now)
        filled = clock.perf_counter()
        data = fill_referrals(app, rng, now)
        referred = clock.perf_counter()
        counts = data["counts"]
        print(f"referrals bench on {backend}: {listing['counts']['agency']:,} agencies, "
              f"{listing['counts']['service']:,} services ({data['receivers']:,} agencies can receive case "
              f"management), {counts['referral']:,} referrals, {counts['intake']:,} intakes, "
              f"{counts['offer']:,} offers ({data['pending']:,} pending, {data['overdue']:,} overdue), "
              f"{counts['event']:,} events")
        print(f"  setup: migrate {migrated - started:.1f} s, directory {filled - migrated:.1f} s, "
              f"referrals {referred - filled:.1f} s")
        with app.app_context():
            counter = directory.QueryCounter(db.engine)

        match_times, match_statements, match_note = measure_match(app, counter, profiler_for("match"))
        manager = directory.login(app, data["manager"])
        chair = directory.login(app, data["chair"])
        shown = manager.get("/referrals/inbox").get_data(as_text=True).count('class="urgency urgency-')
        if shown != data["busy_pending"]:
            raise SystemExit(f"the inbox shows {shown} offers, expected {data['busy_pending']}")
        requests = {}
        for name, client, url in (("inbox", manager, "/referrals/inbox"), ("dashboard", manager, "/"),
                                  ("dashboard_chair", chair, "/"), ("queue", chair, "/referrals/queue")):
            requests[name] = directory.measure(client, [url] * RUNS, counter, profiler_for(name))
        with app.app_context():
            queue = db.session.scalar(select(func.count()).select_from(referral_ops.queue_query().subquery()))
        escalation_s, escalation_statements, escalated = measure_escalation(
            app, counter, profiler_for("escalation"), now)
        idle_s, idle_statements, idle = measure_escalation(app, counter, None, now)
        with app.app_context():
            left = db.session.scalar(select(func.count()).select_from(Offer).where(
                Offer.state == "pending", Offer.deadline_at <= now))

        print(f"  in process; {RUNS} runs each after {WARM_UP} warm-up; times in ms unless marked; nearest-rank p95")
        print(f"  {'measurement':<50} {'runs':>4} {'median':>8} {'p95':>8}     {'target':<7} {'':<6} "
              f"{'SQL/run':>7}")
        ok = True
        lines = [
            ("match: case management + unmet needs (5 needs)", match_times, match_statements, match_note),
            (f"GET /referrals/inbox (case manager, {shown} offers)", *requests["inbox"][::2], ""),
            ("GET / dashboard (case manager)", *requests["dashboard"][::2], ""),
            ("GET / dashboard (chair, queue panel)", *requests["dashboard_chair"][::2],
             f"{queue} referrals in the queue"),
            ("GET /referrals/queue (chair, first page)", *requests["queue"][::2], ""),
        ]
        for label, times, statements, note in lines:
            print(row(label, len(times), statistics.median(times), p95(times), "ms", TARGET_MS,
                      statistics.median(statements), note))
            ok = ok and p95(times) < TARGET_MS
        print(row(f"escalation pass ({data['overdue']:,} overdue offers)", 1, None, escalation_s, "s",
                  TARGET_ESCALATION_S, escalation_statements, escalated))
        print(row("escalation pass again (nothing due)", 1, None, idle_s, "s", TARGET_ESCALATION_S,
                  idle_statements, idle))
        ok = ok and escalation_s < TARGET_ESCALATION_S
        if left:
            print(f"  !! {left} overdue offer(s) still pending after the pass")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for name, profiler in profilers.items():
            print_profile(name, profiler)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if not ok:
        print("  (a figure misses its target: run with --profile to see where the time goes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
