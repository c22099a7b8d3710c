"""Directory pages: search, services, capacity, locations, taxonomy, print, PDF, CSV and confirmation links."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from csrn.agencies import operations as agency_ops
from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.auth.sessions import fresh_login_required
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.directory import bp, receiving
from csrn.directory import operations as ops
from csrn.directory.forms import (
    CapacityForm,
    GenderForm,
    LocationForm,
    ServiceForm,
    ServiceTypeForm,
    hours_errors,
)
from csrn.directory.languages import language_choices, language_name
from csrn.directory.models import AGE_GROUPS, CITIZENSHIP, COSTS, TRAFFICKING_TYPES, GenderOption, ServiceType
from csrn.exports import csv_response
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.roles import CHAIR
from csrn.routing import requested_page
from csrn.schedules import operations as schedule_ops
from csrn.security import roles_required
from csrn.settings.operations import get_settings, task_force_zone

SERVICE_FIELDS = ("service_type_id", "name", "description", "status", "accessibility", "cost", "how_to_refer",
                  "is_24_7", "closed_on_holidays", "open_slots", "waitlist")
FACET_FIELDS = {"age": "ages", "gender": "genders", "citizenship": "citizenship", "trafficking": "trafficking",
                "language": "languages", "interpretation": "interpretation", "county": "counties"}
LOCATION_FIELDS = ("name", "address_1", "address_2", "city", "state", "postal_code", "county", "visibility")


def filters_from_request() -> ops.Filters:
    """Read the search from the query string, keeping only known values."""
    args = request.args
    known_types = {t.code for t in ops.service_types()}
    known_genders = {g.code for g in ops.genders()}

    def pick(name: str, allowed) -> str:
        value = args.get(name, "", type=str)
        return value if value in allowed else ""

    return ops.Filters(
        q=args.get("q", "", type=str).replace("\x00", "").strip()[:200],
        service_type=pick("service_type", known_types),
        age=pick("age", AGE_GROUPS),
        gender=pick("gender", known_genders),
        citizenship=pick("citizenship", CITIZENSHIP),
        trafficking=pick("trafficking", (*TRAFFICKING_TYPES, "both")),
        language=pick("language", {code for code, _ in language_choices()}),
        county=pick("county", set(get_settings().counties)),
        open_now=args.get("open_now") == "1",
        accepting=args.get("accepting") == "1",
        twentyfour=args.get("twentyfour") == "1",
        certified=args.get("certified") == "1",
        community=args.get("community") == "1",
    )


def _result_context(results, now) -> dict:
    """What the result rows need: open-now text, staleness, certification."""
    holiday_days, zone = schedule_ops.holiday_set(), task_force_zone()
    agency_ids = {service.agency_id for service in results}
    # One query for the page, through the same rule as can_receive_referrals.
    certified = receiving.receivable_among(agency_ids, now)
    return {
        "opening": {s.id: ops.opening_status(s, now, holiday_days, zone) for s in results},
        "certified_ids": certified,
        "now": now,
        "language_name": language_name,
    }


@bp.get("/")
@login_required
def search():
    """Search the directory; htmx asks for the results fragment as the user types."""
    filters = filters_from_request()
    now = utcnow()
    page = ops.search(filters, now, page=requested_page())
    context = dict(filters=filters, page=page, **_result_context(page.items, now))
    if request.htmx and request.headers.get("HX-Target") == "results":
        return render_template("directory/_results.html", **context)
    return render_template(
        "directory/search.html",
        service_types=ops.service_types(),
        genders=ops.genders(),
        counties=get_settings().counties,
        languages=language_choices(),
        age_groups=AGE_GROUPS,
        citizenship=CITIZENSHIP,
        trafficking_types=TRAFFICKING_TYPES,
        **context,
    )


@bp.get("/print")
@login_required
def print_list():
    """A printable referral list of the current search (public addresses only)."""
    filters = filters_from_request()
    now = utcnow()
    results = ops.all_results(filters, now)
    locations = {a.id: ops.visible_locations(a, current_user, "print") for a in {s.agency for s in results}}
    return render_template("directory/print.html", filters=filters, results=results, locations=locations,
                           **_result_context(results, now))


@bp.get("/print.pdf")
@login_required
@limiter.limit("20 per minute")
def print_pdf():
    """The printable referral list as a PDF (public addresses only)."""
    from csrn.directory.pdf import referral_list_pdf  # fpdf2 loads only when a PDF is asked for (start-up time)

    filters = filters_from_request()
    now = utcnow()
    results = ops.all_results(filters, now)
    locations = {a.id: ops.visible_locations(a, current_user, "print") for a in {s.agency for s in results}}
    context = _result_context(results, now)
    data = referral_list_pdf(get_settings().name, results, locations, context["opening"], context["certified_ids"],
                             now, task_force_zone())
    response = current_app.response_class(bytes(data), mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'attachment; filename="referral-list.pdf"'
    return response


@bp.get("/export.csv")
@login_required
@fresh_login_required
def export_csv():
    """The current search as CSV (public addresses only; re-authentication first: a bulk export)."""
    filters = filters_from_request()
    now = utcnow()
    results = ops.all_results(filters, now)
    locations = {a.id: ops.visible_locations(a, current_user, "export") for a in {s.agency for s in results}}
    header = ["agency", "service", "type", "status", "phone", "point_of_contact", "poc_phone", "poc_email",
              "ages", "genders", "citizenship", "trafficking_types", "languages", "interpretation", "counties",
              "cost", "open_24_7", "open_slots", "waitlist", "capacity_confirmed", "stale", "public_addresses"]
    rows = []
    for s in results:
        addresses = "; ".join(f"{loc.name}: {loc.address_1}, {loc.city}" for loc in locations[s.agency_id])
        rows.append([s.agency.name, s.title, s.service_type.name, s.agency.status_label, s.agency.phone,
                     s.agency.poc_name, s.agency.poc_phone, s.agency.poc_email,
                     ", ".join(s.values("age")), ", ".join(s.values("gender")), ", ".join(s.values("citizenship")),
                     ", ".join(s.values("trafficking")), ", ".join(s.values("language")),
                     ", ".join(s.values("interpretation")), ", ".join(s.values("county")), COSTS.get(s.cost, s.cost),
                     s.is_24_7, s.open_slots, s.waitlist, s.capacity_confirmed_at, s.is_stale(now), addresses])
    audit.record(current_user, "directory.export_csv", object_type="service", fields=header, now=now)
    db.session.commit()
    return csv_response("directory.csv", header, rows)


# ----- services --------------------------------------------------------------------------------

def _service_form(service=None) -> ServiceForm:
    form = ServiceForm(obj=service) if request.method == "GET" and service is not None else ServiceForm()
    form.service_type_id.choices = [(t.id, t.name) for t in ops.service_types(active_only=False)]
    form.genders.choices = [(g.code, g.label) for g in ops.genders()]
    form.counties.choices = [(c, c) for c in get_settings().counties]
    if request.method == "GET" and service is not None:
        for kind, name in FACET_FIELDS.items():
            getattr(form, name).data = service.values(kind)
        for rule in service.rules:
            if rule.kind == "weekly":
                getattr(form, f"opens_{rule.weekday}").data = rule.opens
                getattr(form, f"closes_{rule.weekday}").data = rule.closes
        form.closures.data = "\n".join(
            f"{r.start_date.isoformat()}" + (f" to {r.end_date.isoformat()}" if r.end_date != r.start_date else "")
            + (f" {r.note}" if r.note else "")
            for r in service.rules if r.kind == "closed"
        )
    elif request.method == "GET":
        form.closed_on_holidays.data = True
    return form


def _save_service_from(form: ServiceForm, agency, service):
    values = {name: getattr(form, name).data for name in SERVICE_FIELDS}
    facets = {kind: getattr(form, name).data or [] for kind, name in FACET_FIELDS.items()}
    weekly = [ops.WeeklyHours(i, getattr(form, f"opens_{i}").data, getattr(form, f"closes_{i}").data)
              for i in range(7)]
    return ops.save_service(current_user, agency, service, values, facets, weekly, form.closure_ranges(),
                            form.version.data if service else None, utcnow())


@bp.route("/agencies/<int:agency_id>/services/new", methods=["GET", "POST"])
@login_required
def new_service(agency_id: int):
    """Add a service to an agency (its agency admins, or a chair)."""
    agency = agency_ops.get_agency_or_404(agency_id)
    if not ops.can_edit_directory(current_user, agency):
        abort(404)
    form = _service_form()
    if form.validate_on_submit() and not hours_errors(form):
        service = _save_service_from(form, agency, None)
        flash(f"Service “{service.title}” added.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("directory/service_form.html", form, agency=agency, service=None)


@bp.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
@login_required
def edit_service(service_id: int):
    """Edit a service; a save over someone else's is refused with a reload message."""
    service = ops.get_service_for_edit_or_404(service_id, current_user)
    form = _service_form(service)
    if form.validate_on_submit() and not hours_errors(form):
        try:
            _save_service_from(form, service.agency, service)
        except StaleEdit as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
            return render_form("directory/service_form.html", form, agency=service.agency, service=service,
                               stale=True)
        flash("Service saved.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=service.agency_id))
    return render_form("directory/service_form.html", form, agency=service.agency, service=service)


@bp.route("/services/<int:service_id>/capacity", methods=["GET", "POST"])
@login_required
def capacity(service_id: int):
    """Update open slots and waitlist in one step (inline with htmx; a plain form without)."""
    service = ops.get_service_for_capacity_or_404(service_id, current_user)
    form = CapacityForm(obj=service) if request.method == "GET" else CapacityForm()
    now = utcnow()
    fragment = bool(request.htmx)
    if form.validate_on_submit():
        ops.update_capacity(current_user, service, form.open_slots.data, form.waitlist.data, now)
        if fragment:
            return render_template("directory/_capacity.html", service=service, now=now, editing=False,
                                   can_update=True, form=None, saved=True)
        flash("Capacity updated.", "success")
        return redirect(url_for("agencies.show", agency_id=service.agency_id), code=303)
    if fragment:
        body = render_template("directory/_capacity.html", service=service, now=now, editing=True,
                               can_update=True, form=form, saved=False)
        return body, (422 if form.errors else 200)
    return render_form("directory/capacity.html", form, service=service, now=now)


@bp.post("/agencies/<int:agency_id>/confirm")
@login_required
def confirm_entries(agency_id: int):
    """Confirm every service of the agency as still accurate (its own users)."""
    agency = agency_ops.get_agency_or_404(agency_id)
    if not ops.can_update_capacity(current_user, agency):
        abort(404)
    count = ops.confirm_agency(current_user, agency, utcnow(), "inline")
    flash(f"{count} service(s) confirmed as accurate today.", "success")
    return redirect(url_for("agencies.show", agency_id=agency.id), code=303)


# ----- confirmation links (no login) ------------------------------------------------------------

@bp.route("/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm_link(token: str):
    """One-click confirmation from the e-mailed link: a page with one button; the link works once."""
    now = utcnow()
    found = tokens.find_valid("capacity", token, now)
    if found is None or found.agency is None:
        return render_template("auth/link_invalid.html", what="confirmation"), 404
    agency = found.agency
    services = ops.services_of(agency)
    form = EmptyForm()
    if form.validate_on_submit():
        if not tokens.consume(found, now):
            return render_template("auth/link_invalid.html", what="confirmation"), 404
        corrections = 0
        for service in services:
            raw_slots = request.form.get(f"slots_{service.id}", "").strip()
            # isascii: "²".isdigit() is true but int("²") fails.
            if raw_slots.isascii() and raw_slots.isdigit() and int(raw_slots) <= 10000 \
                    and int(raw_slots) != service.open_slots:
                service.open_slots = int(raw_slots)
                corrections += 1
        ops.confirm_agency(None, agency, now, "link")
        return render_template("directory/confirmed.html", agency=agency, corrections=corrections)
    return render_template("directory/confirm_link.html", agency=agency, services=services, form=form, now=now)


# ----- locations ---------------------------------------------------------------------------------

def _location_form(location=None) -> LocationForm:
    form = LocationForm(obj=location) if request.method == "GET" and location is not None else LocationForm()
    counties = get_settings().counties
    form.county.choices = [("", "— not stated —")] + [(c, c) for c in counties]
    stored = location.county if location is not None else None  # never the submitted value: any text would pass
    if stored and stored not in counties:
        form.county.choices.append((stored, stored))
    return form


@bp.route("/agencies/<int:agency_id>/locations/new", methods=["GET", "POST"])
@login_required
def new_location(agency_id: int):
    """Add a location to an agency."""
    agency = agency_ops.get_agency_or_404(agency_id)
    if not ops.can_edit_directory(current_user, agency):
        abort(404)
    form = _location_form()
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in LOCATION_FIELDS}
        ops.save_location(current_user, agency, None, values, None, utcnow())
        flash("Location added.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("directory/location_form.html", form, agency=agency, location=None)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@login_required
def edit_location(location_id: int):
    """Edit a location (R7: a stale form is refused)."""
    location = ops.get_location_for_edit_or_404(location_id, current_user)
    agency = agency_ops.get_agency_or_404(location.agency_id)
    form = _location_form(location)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in LOCATION_FIELDS}
        try:
            ops.save_location(current_user, agency, location, values, form.version.data, utcnow())
        except StaleEdit as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
            return render_form("directory/location_form.html", form, agency=agency, location=location)
        flash("Location saved.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("directory/location_form.html", form, agency=agency, location=location)


@bp.route("/locations/<int:location_id>/delete", methods=["GET", "POST"])
@login_required
def delete_location(location_id: int):
    """Remove a location, after confirming."""
    location = ops.get_location_for_edit_or_404(location_id, current_user)
    agency_id = location.agency_id
    form = EmptyForm()
    if form.validate_on_submit():
        ops.delete_location(current_user, location, utcnow())
        flash("Location removed.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency_id))
    return render_template("directory/confirm_delete.html", form=form, location=location,
                           cancel=url_for("agencies.show", agency_id=agency_id))


# ----- taxonomy and genders (chairs) -------------------------------------------------------------

@bp.get("/taxonomy")
@roles_required(CHAIR)
def taxonomy():
    """The service taxonomy and the gender list."""
    return render_template("directory/taxonomy.html", types=ops.service_types(active_only=False),
                           genders=ops.genders(), gender_form=GenderForm())


@bp.route("/taxonomy/new", methods=["GET", "POST"], defaults={"type_id": None})
@bp.route("/taxonomy/<int:type_id>/edit", methods=["GET", "POST"])
@roles_required(CHAIR)
def edit_type(type_id: int | None):
    """Add or edit a service type."""
    term = db.session.get(ServiceType, type_id) if type_id else None
    if type_id and term is None:
        abort(404)
    form = ServiceTypeForm(obj=term) if request.method == "GET" and term else ServiceTypeForm()
    if form.validate_on_submit():
        clash = db.session.scalar(db.select(ServiceType).where(ServiceType.code == form.code.data))
        if clash is not None and clash is not term:
            form.code.errors = ["Another service type already uses this code."]
        else:
            now = utcnow()
            if term is None:
                term = ServiceType()
                db.session.add(term)
            for name in ("name", "code", "description", "sort_order", "active"):
                setattr(term, name, getattr(form, name).data)
            db.session.flush()
            audit.record(current_user, "directory.taxonomy_saved", term, fields=["name", "code", "active"], now=now)
            db.session.commit()
            flash("Service type saved.", "success")
            return redirect_after_post(url_for("directory.taxonomy"))
    return render_form("directory/type_form.html", form, term=term)


@bp.post("/genders")
@roles_required(CHAIR)
def add_gender():
    """Add a gender to the list."""
    form = GenderForm()
    if form.validate_on_submit():
        code = "".join(ch if ch.isalnum() else "_" for ch in form.label.data.lower()).strip("_")[:40] or "gender"
        if db.session.scalar(db.select(GenderOption).where(GenderOption.code == code)) is None:
            option = GenderOption(code=code, label=form.label.data, sort_order=len(ops.genders()))
            db.session.add(option)
            db.session.flush()
            audit.record(current_user, "directory.gender_added", option, fields=["label"], now=utcnow())
            db.session.commit()
            flash("Gender added.", "success")
        else:
            flash("That gender is already on the list.", "info")
        return redirect(url_for("directory.taxonomy"), code=303)
    return render_form("directory/taxonomy.html", form, types=ops.service_types(active_only=False),
                       genders=ops.genders(), gender_form=form)
