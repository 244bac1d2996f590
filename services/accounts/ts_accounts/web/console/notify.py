"""« Notifier en masse » (E1 guardians, F1 students), « Écrire à plusieurs responsables » and
« Éditer les listes des comptes élèves » (F3). Staff select here; accounts decides each case and
issues credentials; the notifier renders and sends, and its batch page follows the progress."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from ts_accounts.adapters.orm import Student
from ts_accounts.domain.lifecycle import STATE_LABELS, AccountKind
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.notifications import (
    EMAIL, EMAIL_AND_PAPER, PAPER, Couple, request_class_list, request_notifications,
)
from ts_accounts.service_layer.support import SearchFilters, school_choices, search, write_to_guardians
from ts_accounts.web.console.common import console_page, follow_batch, follow_order
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.forms import at_most
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS

blueprint = Blueprint("notify", __name__, url_prefix="/admin", template_folder="templates")

GUARDIAN_STATES = [(state.value, label) for state, label in STATE_LABELS.items()]
STUDENT_STATES = [(state.value, label) for state, label in STATE_LABELS.items() if state.value != "activating"]
MAJORITY = 18


class SelectionForm(FlaskForm):
    """The filters (GET): division, legal rank, states."""

    class Meta:
        csrf = False

    division = SelectField("Division", validators=[DataRequired("Choisissez une division.")])
    qualite = SelectField("Qualité", choices=[("", "Légal 1 et légal 2"), ("1", "Légal 1"), ("2", "Légal 2")],
                          validators=[Optional()])


class NotifyForm(FlaskForm):
    mode = RadioField(
        "Mode de transmission",
        default=EMAIL_AND_PAPER,
        choices=[
            (
                EMAIL_AND_PAPER,
                "Courriel et courrier (courriel si le responsable a une adresse dans SIECLE, courrier sinon)",
            ),
            (EMAIL, "Courriel uniquement"),
            (PAPER, "Courrier uniquement (document PDF)"),
        ],
    )
    # F1 (students only: a guardian's password is reset one account at a time, E2).
    reset_password = BooleanField("En réinitialisant les mots de passe de tous les élèves sélectionnés, y compris "
                                  "ceux des comptes à l'état « Utilisé »")


class WriteForm(FlaskForm):
    subject = StringField("Objet", validators=[DataRequired("L'objet est obligatoire."), at_most(200)])
    body = TextAreaField("Message", validators=[DataRequired("Le message est obligatoire."), at_most(10000)])


class ClassListForm(FlaskForm):
    kind = RadioField("Liste par", choices=[("division", "Division"), ("group", "Groupe")], default="division")
    division = SelectField("Division", validators=[Optional()])
    group = SelectField("Groupe", validators=[Optional()])


def _selected_couples() -> list[Couple]:
    """The ticked rows (« élève:responsable »), as posted; the use case checks each belongs here."""
    couples = []
    for value in request.form.getlist("couple"):
        student_id, _, guardian_id = value.partition(":")
        if student_id:
            couples.append(Couple(student_id, guardian_id or None))
    return couples


def _states(kind: AccountKind) -> list[tuple[str, str]]:
    return GUARDIAN_STATES if kind == AccountKind.GUARDIAN else STUDENT_STATES


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _selection_page(kind: AccountKind, population: str, title: str, section: str):
    form = SelectionForm(request.args)
    states = [value for value in request.args.getlist("etats") if value in dict(_states(kind))]
    with runtime_of().uow() as uow:
        _, divisions = school_choices(uow.session, g.school.uai)
        form.division.choices = [("", "Choisir…")] + [(d, d) for d in divisions]
        rows, unnotified_guardians = None, set()
        if form.division.data and form.validate():
            filters = SearchFilters(division=form.division.data, states=tuple(states),
                                    legal_rank=int(form.qualite.data) if form.qualite.data else None)
            rows = search(uow.session, g.school.uai, kind, filters)
            if kind == AccountKind.STUDENT:
                # F1: a minor's guardians should get their letters before the student does.
                guardians = search(
                    uow.session, g.school.uai, AccountKind.GUARDIAN, SearchFilters(division=form.division.data)
                )
                unnotified_guardians = {row.student_siecle_id for row in guardians if row.state == "not_notified"}
    today = date.today()
    minors_first = sorted({f"{row.student_first_name} {row.student_last_name}" for row in rows or ()
                           if row.student_siecle_id in unnotified_guardians and _age(row.birth_date, today) < MAJORITY})
    notify_form = NotifyForm()
    if kind == AccountKind.STUDENT:
        notify_form.mode.choices = [(PAPER, "Courrier uniquement (document PDF)")]
        notify_form.mode.data = PAPER
    return render_template("accounts/notify/selection.html", form=form, rows=rows, kind=kind, population=population,
                           states=_states(kind), chosen_states=states, notify_form=notify_form,
                           write_form=WriteForm(), title=title, minors_first=minors_first,
                           breadcrumb=[(section, "#"), (title, request.path)])


@blueprint.get("/guardians/notify")
@console_page(RIGHT_GUARDIAN_ACCESS)
def guardians():
    return _selection_page(AccountKind.GUARDIAN, "guardians", "Notifier les accès des responsables en masse",
                           "Accès des responsables")


@blueprint.get("/students/notify")
@console_page(RIGHT_STUDENT_ACCESS)
def students():
    return _selection_page(
        AccountKind.STUDENT, "students", "Notifier les accès des élèves en masse", "Accès des élèves"
    )


def _notify(kind: AccountKind, back: str):
    form = NotifyForm()
    if kind == AccountKind.STUDENT:
        form.mode.choices = [(PAPER, "Courrier uniquement (document PDF)")]
    if not form.validate_on_submit():
        flash("Choisissez un mode de transmission.", "error")
        return redirect(back)
    couples = _selected_couples()
    division = request.form.get("division") or ""
    label = (f"Notification des {'responsables' if kind == AccountKind.GUARDIAN else 'élèves'}"
             + (f" de {division}" if division else ""))
    try:
        with runtime_of().uow() as uow:
            order = request_notifications(
                uow,
                SecretBox(settings_of().event_key),
                g.actor,
                uai=g.school.uai,
                couples=couples,
                mode=form.mode.data if kind == AccountKind.GUARDIAN else PAPER,
                reset_password=form.reset_password.data and kind == AccountKind.STUDENT,
                now=utcnow(),
                label=label,
            )
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    return follow_order(order, back)


@blueprint.post("/guardians/notify")
@console_page(RIGHT_GUARDIAN_ACCESS)
def notify_guardians():
    return _notify(
        AccountKind.GUARDIAN, request.referrer if _same_site(request.referrer) else url_for("notify.guardians")
    )


@blueprint.post("/students/notify")
@console_page(RIGHT_STUDENT_ACCESS)
def notify_students():
    return _notify(
        AccountKind.STUDENT, request.referrer if _same_site(request.referrer) else url_for("notify.students")
    )


def _same_site(url: str | None) -> bool:
    return url is not None and url.startswith(request.host_url + "admin/")


@blueprint.post("/guardians/write")
@console_page(RIGHT_GUARDIAN_ACCESS)
def write_guardians():
    """« Écrire à plusieurs responsables »: one separate email for each selected guardian."""
    form = WriteForm()
    couples = [(c.student_id, c.guardian_id) for c in _selected_couples() if c.guardian_id]
    back = request.referrer if _same_site(request.referrer) else url_for("notify.guardians")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(back)
    if not couples:
        flash("Aucun responsable n'est sélectionné.", "error")
        return redirect(back)
    try:
        with runtime_of().uow() as uow:
            outcome = write_to_guardians(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                         couples=couples, subject=form.subject.data, body=form.body.data, now=utcnow())
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    flash(f"Courriel envoyé à {len(outcome.sent_to)} responsable(s).", "success")
    if outcome.without_address:
        flash("Sans adresse électronique utilisable (non envoyé) : " + ", ".join(outcome.without_address), "warning")
    return redirect(back)


@blueprint.route("/students/class-lists", methods=["GET", "POST"])
@console_page(RIGHT_STUDENT_ACCESS)
def class_lists():
    """F3: a division's or group's accounts, as PDF (alphabetical) and CSV, to hand out in class."""
    form = ClassListForm()
    with runtime_of().uow() as uow:
        _, divisions = school_choices(uow.session, g.school.uai)
        # Only the groups that have students are offered (seed 003 §5.3).
        students = uow.session.scalars(select(Student.groups).where(Student.school_uai == g.school.uai,
                                                                    Student.departed_at.is_(None))).all()
        groups = sorted({group for student_groups in students for group in (student_groups or [])})
    form.division.choices = [("", "Choisir…")] + [(d, d) for d in divisions]
    form.group.choices = [("", "Choisir…")] + [(group, group) for group in groups]
    if form.validate_on_submit():
        division = form.division.data if form.kind.data == "division" else None
        group = form.group.data if form.kind.data == "group" else None
        try:
            with runtime_of().uow() as uow:
                batch_id = request_class_list(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                              division=division or None, group=group or None, now=utcnow())
        except AccountsError as error:
            flash(str(error), "error")
        else:
            return follow_batch(batch_id)
    return render_template(
        "accounts/notify/class_lists.html",
        form=form,
        breadcrumb=[("Accès des élèves", "#"), ("Éditer les listes des comptes élèves", request.path)],
    )
