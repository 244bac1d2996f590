"""« Gérer le compte responsable / élève » (E2, F2) and the duplicate-guardians report (A2)."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Optional

from ts_accounts.domain.lifecycle import STATE_LABELS, AccountKind, AccountState
from ts_accounts.service_layer import support
from ts_accounts.service_layer.duplicates import guardian_duplicates
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.service_layer.notifications import EMAIL, PAPER
from ts_accounts.service_layer.simulation import start_simulation
from ts_accounts.service_layer.support import (
    SearchFilters, change_access, couple_detail, create_new_account, renotify, school_choices, search,
    write_to_guardians,
)
from ts_accounts.web.console.common import console_page, follow_batch
from ts_accounts.web.console.labels import end_reason, event_label
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.forms import ConfirmForm, at_most, valid_email
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS

blueprint = Blueprint("support", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/support-static")


@blueprint.context_processor
def _labels():
    return {"event_label": event_label, "end_reason": end_reason}


POPULATIONS = {
    "guardians": (
        AccountKind.GUARDIAN,
        RIGHT_GUARDIAN_ACCESS,
        "Accès des responsables",
        "Gérer le compte responsable / élève",
    ),
    "students": (AccountKind.STUDENT, RIGHT_STUDENT_ACCESS, "Accès des élèves", "Gérer le compte élève"),
}
STATE_CHOICES = [(state.value, label) for state, label in STATE_LABELS.items()]
STATES = {state.value for state in STATE_LABELS}


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    nom = StringField("Premières lettres du nom de l'élève", validators=[Optional(), at_most(50)])
    mef = SelectField("MEF", validators=[Optional()])
    division = SelectField("Division", validators=[Optional()])
    etats = SelectMultipleField("État du compte", choices=STATE_CHOICES, validators=[Optional()])
    qualite = SelectField("Qualité", choices=[("", "Légal 1 et légal 2"), ("1", "Légal 1"), ("2", "Légal 2")],
                          validators=[Optional()])


class NotifyForm(FlaskForm):
    mode = RadioField("Mode de transmission", choices=[(EMAIL, "Courriel"), (PAPER, "Courrier papier (PDF)")])
    reset_password = BooleanField("Réinitialiser le mot de passe")


def notify_form(couple: support.CoupleDetail, **kwargs) -> NotifyForm:
    """« Renotifier »: by email when the family can get it (a guardian's valid SIECLE address, the
    confirmed address of a used account) — chosen first — else by letter."""
    form = NotifyForm(**kwargs)
    address = couple.notification_address
    paper = (PAPER, "Courrier papier (PDF)")
    form.mode.choices = [(EMAIL, f"Courriel à {address}"), paper] if address else [paper]
    if not form.is_submitted():
        form.mode.data = EMAIL if address else PAPER
    return form


class ResendForm(FlaskForm):
    email = StringField("Adresse électronique corrigée", validators=[Optional(), at_most(254),
                                                                     valid_email("Adresse électronique invalide.")])
    email_again = StringField("Confirmation de l'adresse", validators=[
        Optional(), EqualTo("email", "Les deux adresses saisies sont différentes.")])


class WriteForm(FlaskForm):
    subject = StringField("Objet", validators=[DataRequired("L'objet est obligatoire."), at_most(200)])
    body = TextAreaField("Message", validators=[DataRequired("Le message est obligatoire."), at_most(10000)])


class NewAccountForm(FlaskForm):
    """A new account replaces the current one: the staff member ticks a box to confirm."""

    confirm = BooleanField("Je confirme", validators=[DataRequired("Cochez la case pour confirmer.")])


def _population(population: str):
    if population not in POPULATIONS:
        abort(404)
    kind, right, section, title = POPULATIONS[population]
    if not g.staff.can(right):
        abort(403)
    return kind, section, title


@blueprint.get("/<any(guardians, students):population>/")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def search_page(population: str):
    kind, section, title = _population(population)
    form = SearchForm(request.args)
    if kind == AccountKind.GUARDIAN:
        form.nom.label.text = "Premières lettres du nom de l'élève ou du responsable"
    with runtime_of().uow() as uow:
        mefs, divisions = school_choices(uow.session, g.school.uai)
        form.mef.choices = [("", "Toutes")] + mefs
        form.division.choices = [("", "Toutes")] + [(d, d) for d in divisions]
        rows = None
        if request.args:
            form.validate()
            filters = SearchFilters(
                name_prefix=form.nom.data or None, mef_code=form.mef.data or None, division=form.division.data or None,
                states=tuple(state for state in form.etats.data or () if state in STATES),
                legal_rank=int(form.qualite.data) if form.qualite.data in ("1", "2") else None)
            rows = search(uow.session, g.school.uai, kind, filters)
    return render_template("accounts/support/search.html", form=form, rows=rows, population=population, kind=kind,
                           title=title, breadcrumb=[(section, "#"), (title, request.path)])


def _detail_url(population: str, student_id: str, guardian_id: str | None) -> str:
    if guardian_id:
        return url_for("support.detail", population=population, student_id=student_id, guardian_id=guardian_id)
    return url_for("support.detail", population=population, student_id=student_id)


@blueprint.get("/<any(guardians, students):population>/<student_id>", defaults={"guardian_id": None})
@blueprint.get("/<any(guardians, students):population>/<student_id>/<guardian_id>")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def detail(population: str, student_id: str, guardian_id: str | None):
    kind, section, title = _population(population)
    if (kind == AccountKind.GUARDIAN) != (guardian_id is not None):
        abort(404)
    with runtime_of().uow() as uow:
        try:
            couple = couple_detail(uow.session, g.school.uai, student_id, guardian_id)
        except AccountsError:
            abort(404)
    state = AccountState(couple.account.state) if couple.account else None
    notify = notify_form(couple)
    return render_template(
        "accounts/support/detail.html",
        couple=couple,
        population=population,
        kind=kind,
        state=state,
        notify_form=notify,
        resend_form=ResendForm(),
        write_form=WriteForm(),
        confirm_form=NewAccountForm(),
        action_form=ConfirmForm(),
        may_write=couple.write_address is not None,
        breadcrumb=[
            (section, "#"),
            (title, url_for("support.search_page", population=population)),
            (couple.student.first_name + " " + couple.student.display_last_name, request.path),
        ],
    )


def _couple_or_404(uow, student_id: str, guardian_id: str | None):
    try:
        couple = couple_detail(uow.session, g.school.uai, student_id, guardian_id)
    except AccountsError:
        abort(404)
    return couple


def _action(population: str, student_id: str, guardian_id: str | None) -> support.CoupleDetail:
    """Checks common to every action, before the form is even read: the population's right, then
    the couple must exist in the staff member's school (404 otherwise)."""
    kind, _, _ = _population(population)
    if (kind == AccountKind.GUARDIAN) != (guardian_id is not None):
        abort(404)
    with runtime_of().uow() as uow:
        return _couple_or_404(uow, student_id, guardian_id)


def _route(rule: str, methods=("POST",)):
    """An action on one couple: /admin/<population>/<student>[/<guardian>]/<rule>."""

    def decorator(view):
        endpoint = view.__name__
        blueprint.add_url_rule(f"/<any(guardians, students):population>/<student_id>/-/{rule}", endpoint,
                               view, methods=methods, defaults={"guardian_id": None})
        blueprint.add_url_rule(f"/<any(guardians, students):population>/<student_id>/<guardian_id>/-/{rule}",
                               endpoint, view, methods=methods)
        return view

    return decorator


@_route("notify")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def notify(population: str, student_id: str, guardian_id: str | None):
    """Renotify (E2/F2), with a new temporary password when asked (used accounts)."""
    form = notify_form(_action(population, student_id, guardian_id))
    back = _detail_url(population, student_id, guardian_id)
    if not form.validate_on_submit():
        flash("Choisissez un mode de transmission.", "error")
        return redirect(back)
    try:
        with runtime_of().uow() as uow:
            order = renotify(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai, student_id=student_id,
                             guardian_id=guardian_id, mode=form.mode.data, reset_password=form.reset_password.data,
                             now=utcnow())
    except NotFound:
        abort(404)
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    if not order.deliveries:
        flash("Notification impossible : " + "; ".join(reason for _, reason in order.skipped), "error")
        return redirect(back)
    flash("La notification est en préparation : suivez-la et téléchargez le courrier le cas échéant.", "success")
    return follow_batch(order.batch_id)


def _refused(form: FlaskForm, back: str):
    """Back to the couple's page, each message of the refused form flashed."""
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")
    return redirect(back)


@_route("resend-activation")
@console_page(RIGHT_GUARDIAN_ACCESS)
def resend_activation(population: str, student_id: str, guardian_id: str | None):
    """E2: send the activation email again, after correcting the address if needed."""
    _action(population, student_id, guardian_id)
    form = ResendForm()
    back = _detail_url(population, student_id, guardian_id)
    if not form.validate_on_submit():
        return _refused(form, back)
    try:
        with runtime_of().uow() as uow:
            sent_to = support.resend_activation(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                                student_id=student_id, guardian_id=guardian_id,
                                                email=form.email.data or None,
                                                email_again=form.email_again.data or None, now=utcnow())
    except NotFound:
        abort(404)
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    flash(f"Le courriel d'activation a été renvoyé à {sent_to}.", "success")
    return redirect(back)


@_route("write")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def write(population: str, student_id: str, guardian_id: str | None):
    """E2: write an email to this guardian, or to this student (v17.1)."""
    _action(population, student_id, guardian_id)
    form = WriteForm()
    back = _detail_url(population, student_id, guardian_id)
    if not form.validate_on_submit():
        return _refused(form, back)
    try:
        with runtime_of().uow() as uow:
            outcome = write_to_guardians(uow, SecretBox(settings_of().event_key), g.actor, uai=g.school.uai,
                                         couples=[(student_id, guardian_id)], subject=form.subject.data,
                                         body=form.body.data, now=utcnow())
    except NotFound:
        abort(404)
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    if outcome.sent_to:
        flash(f"Le courriel est envoyé à {outcome.sent_to[0]}.", "success")
    else:
        flash(("Ce responsable n'a" if guardian_id else "Cet élève n'a") +
              " pas d'adresse électronique utilisable : écrivez-lui par courrier.", "error")
    return redirect(back)


@_route("new-account")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def new_account(population: str, student_id: str, guardian_id: str | None):
    """E2/F2: a new account with a new login; the old one is closed (or keeps its other children)."""
    _action(population, student_id, guardian_id)
    form = NewAccountForm()
    back = _detail_url(population, student_id, guardian_id)
    if not form.validate_on_submit():
        flash("Cochez la case pour confirmer la création d'un nouveau compte.", "error")
        return redirect(back)
    try:
        with runtime_of().uow() as uow:
            account = create_new_account(uow, g.actor, uai=g.school.uai, student_id=student_id,
                                         guardian_id=guardian_id, now=utcnow())
    except NotFound:
        abort(404)
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    flash(f"Nouveau compte créé : {account.login} (à notifier).", "success")
    return redirect(back)


@_route("access")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def access(population: str, student_id: str, guardian_id: str | None):
    """B9: remove or restore the access to online services (the refusal coupon)."""
    _action(population, student_id, guardian_id)
    back = _detail_url(population, student_id, guardian_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    refuse = request.form.get("refuse") == "1"
    try:
        with runtime_of().uow() as uow:
            change_access(uow, g.actor, uai=g.school.uai, student_id=student_id, guardian_id=guardian_id,
                          refused=refuse, now=utcnow())
    except NotFound:
        abort(404)
    flash(
        "L'accès aux services en ligne est retiré." if refuse else "L'accès aux services en ligne est rétabli.",
        "success",
    )
    return redirect(back)


@_route("simulate")
@console_page(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def simulate(population: str, student_id: str, guardian_id: str | None):
    """H11: « Simuler l'accès à Scolarité services » for a used account — a one-time link to the
    portal's warning page, the simulation recorded in the audit log."""
    _action(population, student_id, guardian_id)
    back = _detail_url(population, student_id, guardian_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        with runtime_of().uow() as uow:
            token = start_simulation(uow, g.actor, uai=g.school.uai, student_id=student_id,
                                     guardian_id=guardian_id, now=utcnow())
    except NotFound:
        abort(404)
    except AccountsError as error:
        flash(str(error), "error")
        return redirect(back)
    return redirect("/simulation?" + urlencode({"jeton": token}))  # the portal, behind the same gateway


@blueprint.get("/guardians/duplicates")
@console_page(RIGHT_GUARDIAN_ACCESS)
def duplicates():
    """A2: probable duplicate guardian records, to merge in SIECLE before notifying."""
    with runtime_of().uow() as uow:
        groups = guardian_duplicates(uow.session, g.school.uai)
    return render_template("accounts/support/duplicates.html", groups=groups,
                           breadcrumb=[("Accès des responsables", "#"), ("Doublons de responsables", request.path)])
