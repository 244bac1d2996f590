"""« Comptes bientôt supprimés » (seed 003 §5): the accounts not activated whose deletion is near,
division by division, renotified in one go."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional

from ts_accounts.domain.lifecycle import STATE_LABELS, AccountKind
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.reminders import REMINDER_WINDOW, renotify_soon_deleted, soon_deleted
from ts_accounts.service_layer.support import school_choices
from ts_accounts.web.console.common import console_page, follow_order
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.forms import ConfirmForm
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS

blueprint = Blueprint("reminders", __name__, url_prefix="/admin", template_folder="templates")

POPULATIONS = {
    "guardians": (AccountKind.GUARDIAN, RIGHT_GUARDIAN_ACCESS, "Accès des responsables"),
    "students": (AccountKind.STUDENT, RIGHT_STUDENT_ACCESS, "Accès des élèves"),
}
TITLE = "Comptes bientôt supprimés"


class DivisionForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    division = SelectField("Division", validators=[Optional()])


def _population(population: str):
    kind, right, section = POPULATIONS[population]
    if not g.staff.can(right):
        abort(403)
    return kind, section


@blueprint.get("/<any(guardians, students):population>/expiring")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def expiring(population: str):
    kind, section = _population(population)
    form = DivisionForm(request.args)
    with runtime_of().uow() as uow:
        _, divisions = school_choices(uow.session, g.school.uai)
        form.division.choices = [("", "Toutes")] + [(d, d) for d in divisions]
        division = form.division.data if form.division.data in divisions else None
        items = soon_deleted(uow.session, g.school.uai, kind, now=utcnow(), division=division)
    by_division: dict[str, list] = {}
    for item in items:
        by_division.setdefault(item.row.division or "Sans division", []).append(item)
    return render_template("accounts/support/expiring.html", form=form, by_division=by_division, total=len(items),
                           kind=kind, population=population, division=division, action_form=ConfirmForm(),
                           days=REMINDER_WINDOW.days, state_labels=dict(STATE_LABELS), title=TITLE,
                           breadcrumb=[(section, "#"), (TITLE, request.path)])


@blueprint.post("/<any(guardians, students):population>/expiring")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def renotify_expiring(population: str):
    kind, _ = _population(population)
    division = request.form.get("division") or None
    back = (url_for("reminders.expiring", population=population, division=division) if division
            else url_for("reminders.expiring", population=population))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        with runtime_of().uow() as uow:
            order = renotify_soon_deleted(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                          kind=kind, division=division, now=utcnow())
    except AccountsError:
        flash("Aucun compte n'est à renotifier.", "error")
        return redirect(back)
    return follow_order(order, back)
