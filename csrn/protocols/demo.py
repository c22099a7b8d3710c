"""The demo task force's protocols: five pages in the spirit of the victim services committee text."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from csrn.auth.models import User
from csrn.extensions import db
from csrn.protocols import operations as ops
from csrn.protocols.models import ProtocolPage

OWNER_EMAIL = "chair@demo.example"

LAW_ENFORCEMENT_V1 = """\
## When this applies

Any officer, deputy or investigator of a member agency who meets a person who may be a victim of
human trafficking, at any hour and on any day. You do not need to be sure it is trafficking to call.

## Call the on-call advocate first

[[oncall-now]]

Call the primary. If there is no answer within 10 minutes, call the backup.

## While you wait

1. Make the person safe. Separate them from anyone who may be controlling them, including
   "friends", partners, employers and anyone who arrived with them.
2. Meet urgent medical needs first. Call EMS for injuries, overdose, or anyone pregnant and in pain.
3. Do not promise what the network cannot guarantee (immigration relief, housing, money). Say:
   "An advocate is on the way. They will explain what help there is."
4. Use a professional interpreter, never a companion, a child or a co-worker
   (see *Working with interpreters*).
"""

LAW_ENFORCEMENT_V2 = """\
## When this applies

Any officer, deputy or investigator of a member agency who meets a person who may be a victim of
human trafficking, at any hour and on any day. You do not need to be sure it is trafficking to call.
The network has agreed that **someone is always available to respond to law enforcement**; this
page says who.

## Call the on-call advocate first

[[oncall-now]]

Call the primary. If there is no answer within 10 minutes, call the backup. If neither answers
within 20 minutes, call the task force number and say it is an **unanswered on-call page**: the
chairs are told at once.

## While you wait

1. Make the person safe. Separate them from anyone who may be controlling them, including
   "friends", partners, employers and anyone who arrived with them.
2. Meet urgent medical needs first. Call EMS for injuries, overdose, or anyone pregnant and in pain.
3. Do not promise what the network cannot guarantee (immigration relief, housing, money). Say:
   "An advocate is on the way. They will explain what help there is."
4. Use a professional interpreter, never a companion, a child or a co-worker
   (see *Working with interpreters*).
5. Do not take the person's identity documents unless they are evidence. If you must, give a
   receipt and tell the advocate.

## If the person may be under 18

Also call the County Department of Children's Services intake line: the response for minors is
mandated. The on-call advocate still comes, and Bridges Youth Shelter keeps a bed line open
around the clock.

## What the advocate does

The advocate meets the person, explains their options without pressure and, if the person wants
help, starts the referral in CSRN. Whichever agency the person reached first, they reach the right
case manager: there is no wrong door. The case manager who accepts the referral does the needs
assessment. The advocate does not interview the person about the offence.

## Handing over

- Give the advocate your name, agency, incident number and how to reach you tonight.
- Never put the person's name, address or story in e-mail or text messages. The referral in CSRN
  is the record, and only the people who need it can open it.

## Who is on call this week

[[oncall-week]]
"""

REFERRAL = """\
## No wrong door

A victim identified through any task force member (police, a victim service provider, a clinic,
a shelter, a volunteer) is connected with the most appropriate provider for their needs. You do
not have to be the right agency: you have to start the referral.

## Sending a referral

1. Start an intake in CSRN with the person, or on their behalf if they agree. Record what they
   need in their words; the matching dimensions (age group, language, county) are enough to
   find providers.
2. Ask for consent to share identifying details, and record exactly what the person agreed to.
   A person who does not consent still gets a referral, without their identity.
3. Choose the urgency honestly: **emergency** (answer within 30 minutes), **urgent** (4 hours) or
   **routine** (2 business days).
4. CSRN offers the referral to certified providers who can take it. Stay with the person until a
   provider has accepted, or hand over to the on-call advocate.

## Answering a referral offer

- Accept only if you can start within the time the urgency calls for.
- Decline with a reason ("no capacity", "not eligible", "language"): the reasons show the
  committee where the gaps are.
- An offer nobody answers in time goes to the next provider and then to the chairs. Do not let an
  offer lapse to say no.

## After acceptance

The accepting case manager:

- contacts the person (or the referring worker) within one business day;
- completes the individual needs assessment and a service plan with the person;
- makes onward referrals for what their agency does not provide, through CSRN, so nothing falls
  through the cracks between agencies;
- tells the referring agency that the referral was taken up, and nothing more unless the person
  consents.

## Disagreements

Questions, disputes and complaints about a referral go to the victim services committee chairs,
not back and forth between agencies.
"""

CONFIDENTIALITY = """\
## Why this matters

If one record leaks, a survivor can be found by the person who trafficked them. Every member
handles information about the people we serve as if their safety depends on it, because it does.

## What counts as identifying

Any name or alias, date of birth, contact details, the safe-contact plan, addresses, immigration
details (visa status, A-number, country of origin), free text about the person and messages
about their case.

## The rules

1. **Minimum necessary.** Share only what the receiving provider needs to serve the person.
2. **Consent is a record, not a box.** It names who may share with whom, what, for what purpose,
   and until when. The person can withdraw it at any time.
3. **Consent is never a condition of service.** A person who says no still gets a referral,
   without identifying details.
4. **Victim service providers** may not share identifying information without the person's
   informed, written and time-limited consent (VAWA and VOCA confidentiality rules), including
   with law enforcement.
5. **Immigration details** are shared with law enforcement only when the consent names them.
6. **Never in e-mail or text.** Use CSRN, where only those who need a record can open it and
   every view is logged. Notifications from CSRN carry a link, never client details.
7. **Confidential locations** (shelters, safe houses) are never given out, even to other members.

## If something goes wrong

Tell your agency's administrator and the chairs within 24 hours if client information may have
reached someone it should not have: a misdirected e-mail, a lost phone, a shared screen. Early
reports limit harm; nobody is blamed for reporting.
"""

INTERPRETERS = """\
## Use a professional interpreter

Interpreters trained for trauma settings are available through Language Bridge Interpreters, on
site or by phone, in about 30 languages. New Dawn Survivor Services has Spanish- and
Vietnamese-speaking staff.

Never use the person's companion, employer, a child or a co-worker to interpret: they may be part
of the exploitation, and the person will not speak freely in front of them.

## Before the session

- Check the language *and* dialect, and ask whether the person prefers a woman or a man.
- Brief the interpreter for five minutes: what the meeting is for, and that the story may be
  distressing. Share no more about the case than they need.
- Check that the interpreter does not know the person or their community circle.

## During the session

- Speak to the person, not to the interpreter; the interpreter speaks in the first person.
- Everything said is interpreted; no side conversations in either language.
- Short sentences; pause often.

## Boundaries for interpreters

Volunteer interpreters may have years of experience and a strong command of both languages, but
may not have worked with people who have been through this kind of trauma. It is natural to want
to help. Please do not:

- give the person your phone number, visit them, or offer money, gifts, rides or a place to stay;
- give advice about their case, their immigration status or whom to trust;
- keep notes after the session.

When the person asks you for help outside the assignment, say kindly that their case manager is
the right person and that you will tell the case manager they asked. Then tell the case manager.

## After the session

The case manager offers the interpreter a short debrief. Hearing these stories is hard; ask for
support when you need it.
"""

ATTORNEYS = """\
## Thank you

Pro bono attorneys give survivors access to legal help they could not otherwise get. This page
sets out what the network expects, and what to expect from clients who have been trafficked.

## What to expect

- **Inconsistent or partial accounts.** Trauma affects memory. Clients may be unclear about dates,
  change details between meetings, or not disclose what happened to them until they trust you.
  This is not dishonesty.
- **Time.** Immigration relief takes a long time: a T visa application can take well over a year
  to be decided. Cases are complex and often need more hours than first expected.
- **Many calls.** One task force found its pro bono immigration attorneys frustrated by constant
  calls from clients wanting news of their T visa application. For someone who has lived without
  power or control over their own life, waiting without information can be unbearable: the calls
  are an understandable response to trauma, not unreasonable behaviour.

## Setting expectations and boundaries

1. At the first meeting, explain the process and its likely timeline in plain words, with an
   interpreter if needed.
2. Agree on when you will give updates (for example a short call on the first Monday of each
   month, even when there is no news) and keep to it.
3. Tell the client who to call for what: you for their legal case; their **case manager** for
   housing, money, health, safety and anything urgent.
4. When a client calls about something that is not legal, redirect them warmly to their case
   manager, and let the case manager know.

## Working with the case manager

- Coordinate appointments so that support, including mental health care, is in place around
  difficult legal steps such as declarations and interviews.
- Share what the client consents to share, through CSRN, not by e-mail.

## Staying with the case

Changing attorneys is hard on a survivor who has just learned to trust one. Take a case only if you
can see it through. If you must withdraw, tell the victim services committee chairs at least 30
days ahead so that the handover is planned with the case manager.
"""

# (title, audience, body versions as (text, note, days ago), review due in days from now)
PROTOCOLS = [
    ("Law enforcement first response: who to call", "members",
     [(LAW_ENFORCEMENT_V1, "First version", 120),
      (LAW_ENFORCEMENT_V2, "Added the unanswered-page step, minors and the weekly roster", 14)], 150),
    ("Referral and acceptance", "both", [(REFERRAL, "First version", 90)], 270),
    ("Confidentiality and information sharing", "both", [(CONFIDENTIALITY, "First version", 90)], 200),
    ("Working with interpreters", "both", [(INTERPRETERS, "First version", 400)], -10),
    ("Expectations for pro bono attorneys", "volunteers", [(ATTORNEYS, "First version", 60)], 300),
]


def seed_protocols(now: datetime) -> int:
    """Create and publish the demo protocols, owned by the demo chair; return how many were added."""
    owner = db.session.scalar(select(User).where(User.email == OWNER_EMAIL))
    if owner is None:
        return 0
    today = ops.local_date(now)
    added = 0
    for title, audience, versions, review_in_days in PROTOCOLS:
        if db.session.scalar(select(ProtocolPage).where(ProtocolPage.slug == ops.slugify(title))):
            continue
        values = {
            "title": title,
            "audience": audience,
            "owner_id": owner.id,
            "review_due_on": today + timedelta(days=review_in_days),
        }
        (body, note, days_ago), *later = versions
        page = ops.create_page(owner, {**values, "body": body, "change_note": note},
                               now - timedelta(days=days_ago), publish=True)
        for body, note, days_ago in later:
            ops.save_page(owner, page, {**values, "body": body, "change_note": note}, page.version,
                          now - timedelta(days=days_ago), publish=True)
        added += 1
    return added
