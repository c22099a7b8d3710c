"""The resource map (`/gaps/`): every user of a member agency, chairs and administrators; a cell opens its
providers in place (htmx) or as its own page."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from csrn.audit import operations as audit
from csrn.auth.sessions import fresh_login_required
from csrn.clock import utcnow
from csrn.directory import operations as directory_ops
from csrn.exports import csv_response
from csrn.extensions import db
from csrn.forms import EmptyForm
from csrn.gaps import bp, charts, demand
from csrn.gaps import operations as ops
from csrn.gaps import review as review_ops
from csrn.gaps.forms import ProspectForm
from csrn.gaps.models import GapProspect
from csrn.roles import ADMIN, CHAIR
from csrn.security import roles_required
from csrn.settings.operations import get_settings, task_force_zone


def _filters() -> ops.MapFilters:
    county = request.args.get("county", "")
    return ops.MapFilters(county=county if county in get_settings().counties else "",
                          volunteers=request.args.get("volunteers") == "1",
                          community=request.args.get("community") == "1")


def _filter_args(filters: ops.MapFilters) -> dict:
    args = {}
    if filters.county:
        args["county"] = filters.county
    if filters.volunteers:
        args["volunteers"] = "1"
    if filters.community:
        args["community"] = "1"
    return args


def _allowed() -> None:
    if not ops.may_see_map(current_user):
        abort(403)


@bp.get("/")
@login_required
def resource_map():
    """Service types against population segments: who can receive each, with their open slots; gaps said in words."""
    _allowed()
    now, filters = utcnow(), _filters()
    groups = ops.segments(now)
    columns = [segment for _, group in groups for segment in group]
    types = directory_ops.service_types()
    return render_template("gaps/map.html", groups=groups, columns=columns, types=types, filters=filters,
                           cells=ops.supply(now, filters, columns), args=_filter_args(filters),
                           counties=get_settings().counties)


@bp.get("/cell")
@login_required
def cell():
    """The providers behind one cell of the map (a fragment for htmx, else a page)."""
    _allowed()
    now, filters = utcnow(), _filters()
    service_type = directory_ops.service_type_by_code(request.args.get("type", ""))
    segment = ops.segment_from(request.args.get("segment", ""), now)
    if service_type is None or segment is None:
        abort(404)
    providers = ops.providers_in(service_type, segment, now, filters)
    chair = current_user.has_role(CHAIR)
    form = ProspectForm()
    if chair:
        form.agency_id.choices = [(a.id, a.name) for a in ops.recruitable_agencies()]
    template = "gaps/_cell.html" if request.htmx else "gaps/cell.html"
    return render_template(template, service_type=service_type, segment=segment, providers=providers,
                           filters=filters, args=_filter_args(filters), chair=chair, form=form,
                           prospects=ops.prospects_for(service_type, segment) if chair else [], unlink=EmptyForm())


# ----- demand against supply (chairs and administrators) ----------------------------------------------------------

def _period() -> tuple[demand.Period, str]:
    """The period asked for (`from`, `to`: dates), else the past year; with a message when it could not be read."""
    default = demand.default_period(utcnow())
    first, last = request.args.get("from", ""), request.args.get("to", "")
    if not first and not last:
        return default, ""
    try:
        period = demand.Period(date.fromisoformat(first) if first else default.first,
                               date.fromisoformat(last) if last else default.last)
    except ValueError:
        return default, "Give the dates as YYYY-MM-DD: the past year is shown instead."
    if period.first > period.last or (period.last - period.first).days > 366 * 5:
        return default, "The period must run forward and cover at most five years: the past year is shown instead."
    return period, ""


def _period_args(period: demand.Period) -> dict:
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


@bp.get("/demand")
@roles_required(CHAIR, ADMIN)
def demand_report():
    """Demand against supply over a period: aggregate only, every client count under the rule of small numbers."""
    period, problem = _period()
    trends = {name: demand.monthly(name, period) for name in demand.TRENDS}
    return render_template("gaps/demand.html", period=period, problem=problem, tables=demand.all_tables(period),
                           by_type=demand.acceptance_by_type(period), by_agency=demand.acceptance_by_agency(period),
                           trends=trends, trend_names=demand.TRENDS, args=_period_args(period))


@bp.get("/demand.csv")
@roles_required(CHAIR, ADMIN)
@fresh_login_required
def demand_csv():
    """One table of the report as CSV, exactly as shown (hidden numbers stay hidden)."""
    period, _ = _period()
    key = request.args.get("table", "")
    timings = {"acceptance-type": ("Service", demand.acceptance_by_type),
               "acceptance-agency": ("Agency", demand.acceptance_by_agency)}
    if key in timings:
        label, build = timings[key]
        header = [label, "Acceptances", "Median", "90th percentile"]
        rows = [[t.label, t.count.text, t.median, t.p90] for t in build(period)]
    else:
        table = demand.table_by_key(key, period)
        if table is None:
            abort(404)
        header, rows = table.csv_rows()
    return _audited_csv(key, period, header, rows)


def _audited_csv(name: str, period: demand.Period, header: list[str], rows):
    """A table of the report as a CSV download, its export audited (by name, never its figures)."""
    audit.record(current_user, "gaps.export_csv", current_user, fields=[name], now=utcnow())
    db.session.commit()
    return csv_response(f"csrn-{name}-{period.first}-{period.last}.csv", header, rows)


def _trend() -> tuple[str, demand.Period, list]:
    name = request.args.get("name", "")
    if name not in demand.TRENDS:
        abort(404)
    period, _ = _period()
    return name, period, demand.monthly(name, period)


@bp.get("/demand/chart.svg")
@roles_required(CHAIR, ADMIN)
def trend_chart():
    """A monthly trend as an SVG image (its numbers are beside it on the page, and as CSV)."""
    name, period, points = _trend()
    svg = charts.bar_chart(f"{demand.TRENDS[name]} per month, {period.first} to {period.last}",
                           [(month.strftime("%b %y"), shown) for month, shown in points])
    response = current_app.response_class(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'none'; script-src 'none'"
    return response


@bp.get("/demand/trend.csv")
@roles_required(CHAIR, ADMIN)
@fresh_login_required
def trend_csv():
    name, period, points = _trend()
    return _audited_csv(f"trend-{name}", period, ["Month", demand.TRENDS[name]],
                        [[month.strftime("%Y-%m"), shown.text] for month, shown in points])


# ----- the committee review ---------------------------------------------------------------------------------------

@bp.get("/review")
@roles_required(CHAIR, ADMIN)
def committee_review():
    """One page for the committee meeting, each item linking to where it is fixed; printable."""
    period, problem = _period()
    now = utcnow()
    linked, unlinked = ops.recruitment(now)
    return render_template("gaps/review.html", review=review_ops.build(now, period), problem=problem,
                           args=_period_args(period), linked=linked, unlinked=unlinked)


@bp.get("/review.pdf")
@roles_required(CHAIR, ADMIN)
def committee_review_pdf():
    """The committee review as a PDF."""
    period, _ = _period()
    now = utcnow()
    data = review_ops.pdf(review_ops.build(now, period), get_settings().name, now, task_force_zone())
    response = current_app.response_class(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="csrn-committee-review-{period.last}.pdf"'
    return response


# ----- recruitment (chairs) ------------------------------------------------------------------------------------------

@bp.post("/prospects")
@roles_required(CHAIR)
def link_prospect():
    """Link an agency that could fill the cell; back to the cell."""
    now = utcnow()
    service_type = directory_ops.service_type_by_code(request.form.get("type", ""))
    segment = ops.segment_from(request.form.get("segment", ""), now)
    if service_type is None or segment is None:
        abort(404)
    form = ProspectForm()
    form.agency_id.choices = [(a.id, a.name) for a in ops.recruitable_agencies()]
    if form.validate_on_submit():
        try:
            ops.link_prospect(current_user, form.agency_id.data, service_type, segment, now)
        except ops.RecruitmentRefused as exc:
            flash(str(exc), "error")
        else:
            flash("Prospect linked to this gap. The committee review follows it.", "success")
    else:
        flash("Choose an agency that is not yet a member.", "error")
    return redirect(url_for("gaps.cell", type=service_type.code, segment=segment.key), code=303)


@bp.post("/prospects/<int:prospect_id>/delete")
@roles_required(CHAIR)
def unlink_prospect(prospect_id: int):
    link = db.session.get(GapProspect, prospect_id)
    if link is None:
        abort(404)
    form = EmptyForm()
    target = url_for("gaps.cell", type=link.service_type.code, segment=link.segment)
    if form.validate_on_submit():
        ops.unlink_prospect(current_user, link, utcnow())
        flash("Prospect unlinked.", "success")
    return redirect(target, code=303)
