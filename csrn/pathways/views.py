"""Pathway pages: everyone reads them; chairs write them."""

from flask import flash, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING
from csrn.directory import operations as directory_ops
from csrn.extensions import db
from csrn.forms import Checkboxes, VersionedForm, redirect_after_post, render_form
from csrn.pathways import bp
from csrn.pathways import operations as ops
from csrn.roles import CHAIR
from csrn.security import roles_required

MAX_STEPS = 8



class PathwayForm(VersionedForm):
    """A pathway: who it is for and its steps."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    working_group = StringField("Working group", description="e.g. “Youth” or “Foreign nationals” (optional).",
                                validators=[Optional(), Length(max=120)])
    active = BooleanField("Shown in intakes", default=True)
    age_groups = Checkboxes("Age groups", choices=[(k, v) for k, v in AGE_GROUPS.items() if k != "unknown"],
                            description="Tick none for anyone.")
    genders = Checkboxes("Genders", choices=[], description="Tick none for anyone.")
    citizenship = Checkboxes("Citizenship", choices=[(k, v) for k, v in CITIZENSHIP.items() if k != "unknown"],
                             description="Tick none for anyone.")
    trafficking = Checkboxes("Trafficking types", choices=[(k, v) for k, v in TRAFFICKING.items() if k != "unknown"],
                             description="Tick none for anyone.")


for _index in range(MAX_STEPS):
    setattr(PathwayForm, f"step_type_{_index}", SelectField(f"Step {_index + 1}", coerce=int, choices=[]))
    setattr(PathwayForm, f"step_guidance_{_index}", TextAreaField(f"Guidance for step {_index + 1}",
                                                                  validators=[Optional(), Length(max=2000)]))


def _form(pathway=None) -> PathwayForm:
    form = PathwayForm(obj=pathway) if request.method == "GET" and pathway else PathwayForm()
    types = [(0, "— no step —")] + [(t.id, t.name) for t in directory_ops.service_types()]
    form.genders.choices = [(g.code, g.label) for g in directory_ops.genders()]
    for index in range(MAX_STEPS):
        getattr(form, f"step_type_{index}").choices = types
    if request.method == "GET" and pathway:
        for dimension in ops.TARGETS:
            getattr(form, dimension).data = pathway.target(dimension)
        for index, step in enumerate(pathway.steps[:MAX_STEPS]):
            getattr(form, f"step_type_{index}").data = step.service_type_id
            getattr(form, f"step_guidance_{index}").data = step.guidance
    return form


def _save(form, pathway):
    values = {name: getattr(form, name).data for name in ("name", "description", "working_group", "active")}
    targets = {dimension: getattr(form, dimension).data for dimension in ops.TARGETS}
    steps = [(getattr(form, f"step_type_{i}").data, getattr(form, f"step_guidance_{i}").data or "")
             for i in range(MAX_STEPS) if getattr(form, f"step_type_{i}").data]
    return ops.save_pathway(current_user, pathway, values, targets, steps,
                            form.version.data if pathway else None, utcnow())


@bp.get("/")
@login_required
def index():
    """Every pathway with its steps."""
    return render_template("pathways/index.html", pathways=ops.all_pathways())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def create():
    """Create a pathway (chairs)."""
    form = _form()
    if form.validate_on_submit():
        _save(form, None)
        flash("Pathway saved.", "success")
        return redirect_after_post(url_for("pathways.index"))
    return render_form("pathways/form.html", form, pathway=None, max_steps=MAX_STEPS)


@bp.route("/<int:pathway_id>/edit", methods=["GET", "POST"])
@roles_required(CHAIR)
def edit(pathway_id: int):
    """Edit a pathway (chairs); a stale form is refused."""
    pathway = ops.get_pathway_or_404(pathway_id)
    form = _form(pathway)
    if form.validate_on_submit():
        try:
            _save(form, pathway)
        except StaleEdit as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
            return render_form("pathways/form.html", form, pathway=pathway, max_steps=MAX_STEPS)
        flash("Pathway saved.", "success")
        return redirect_after_post(url_for("pathways.index"))
    return render_form("pathways/form.html", form, pathway=pathway, max_steps=MAX_STEPS)
