"""The resource map (`/gaps/`): every user of a member agency, chairs and administrators; a cell opens its
providers in place (htmx) or as its own page."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user, login_required

from csrn.clock import utcnow
from csrn.directory import operations as directory_ops
from csrn.gaps import bp
from csrn.gaps import operations as ops
from csrn.settings.operations import get_settings


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
    template = "gaps/_cell.html" if request.htmx else "gaps/cell.html"
    return render_template(template, service_type=service_type, segment=segment, providers=providers,
                           filters=filters, args=_filter_args(filters))
