"""The head of school's pages: delegations of the console (J1) and the audit log (J2)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Optional

from ts_accounts.service_layer import audit as audit_log
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.service_layer.staff import (
    RIGHT_LABELS, delegate, list_delegates, reset_delegate_password, revoke_delegation,
)
from ts_accounts.domain.names import french_order
from ts_accounts.web.console.common import console_page, done, show_errors
from ts_accounts.web.console.labels import audit_action, audit_target
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm, at_most, required, valid_email
from ts_shared.web.staff_session import DELEGABLE_RIGHTS, RIGHT_AUDIT, RIGHT_DELEGATE

blueprint = Blueprint("establishment", __name__, url_prefix="/admin", template_folder="templates")


class MultiCheckbox(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class DelegationForm(FlaskForm):
    login = StringField("Identifiant du personnel", validators=[DataRequired("L'identifiant est obligatoire."),
                                                               at_most(100)])
    display_name = StringField("Nom (nouveau compte seulement)", validators=[Optional(), at_most(200)])
    email = EmailField("Courriel (facultatif)", validators=[Optional(), at_most(254), valid_email()])
    initial_password = PasswordField("Mot de passe initial (nouveau compte seulement, 10 caractères au moins)",
                                     validators=[Optional(), at_most(200)])
    rights = MultiCheckbox("Parties de la console déléguées",
                           choices=[(right, RIGHT_LABELS[right]) for right in DELEGABLE_RIGHTS],
                           validators=[DataRequired("Choisissez au moins une partie de la console.")])


class DelegatePasswordForm(FlaskForm):
    new_password = PasswordField("Nouveau mot de passe", validators=[required("le nouveau mot de passe"), at_most(200)],
                                 description="10 caractères au moins ; pas un mot de passe courant, pas l'identifiant. "
                                             "À communiquer à la personne.")
    new_password_again = PasswordField("Nouveau mot de passe (confirmation)",
                                       validators=[required("de nouveau le nouveau mot de passe"), at_most(200)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    personnel = SelectField("Personnel", validators=[Optional()])
    action = SelectField("Action", validators=[Optional()])
    texte = StringField("Compte ou texte", validators=[Optional(), at_most(100)])
    du = DateField("Du", validators=[Optional()])
    au = DateField("Au", validators=[Optional()])


@blueprint.route("/delegations", methods=["GET", "POST"])
@console_page(RIGHT_DELEGATE)
def delegations():
    form = DelegationForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                staff = delegate(uow, g.actor, uai=g.school.uai, login=form.login.data, rights=form.rights.data,
                                 display_name=form.display_name.data, email=form.email.data,
                                 initial_password=form.initial_password.data)
        except AccountsError as error:
            show_errors(form, error)
        else:
            flash(f"Délégation enregistrée pour {staff.display_name} ({staff.login}).", "success")
            return redirect(url_for("establishment.delegations"))
    with runtime_of().uow() as uow:
        delegates = list_delegates(uow, g.school.uai)
    return render_template("accounts/establishment/delegations.html", form=form, delegates=delegates,
                           revoke_form=ConfirmForm(), right_labels=RIGHT_LABELS,
                           breadcrumb=[("Établissement", "#"), ("Délégations", request.path)])


@blueprint.post("/delegations/<int:staff_id>/revoke")
@console_page(RIGHT_DELEGATE)
def revoke(staff_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        with runtime_of().uow() as uow:
            revoke_delegation(uow, g.actor, uai=g.school.uai, staff_id=staff_id)
    except NotFound:
        abort(404)  # no such delegation in this school
    flash("La délégation est retirée.", "success")
    return redirect(url_for("establishment.delegations"))


@blueprint.route("/delegations/<int:staff_id>/mot-de-passe", methods=["GET", "POST"])
@console_page(RIGHT_DELEGATE)
def delegate_password(staff_id: int):
    """The head gives a delegate a new password (forgotten, or to be sure nobody else knows it):
    the delegate's open sessions end at once."""
    with runtime_of().uow() as uow:
        person = next((d for d in list_delegates(uow, g.school.uai) if d.staff_id == staff_id), None)
    if person is None:
        abort(404)  # no such delegation in this school
    form = DelegatePasswordForm()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                with runtime_of().uow() as uow:
                    reset_delegate_password(uow, g.actor, uai=g.school.uai, staff_id=staff_id,
                                            new_password=form.new_password.data,
                                            new_password_again=form.new_password_again.data)
            except AccountsError as error:
                show_errors(form, error)
            else:
                return done(f"Le mot de passe de {person.display_name} est changé ; ses sessions ouvertes sont "
                            "fermées. Communiquez-lui le nouveau mot de passe.", "establishment.delegations")
    return render_template("accounts/establishment/delegate_password.html", form=form, person=person,
                           breadcrumb=[("Établissement", "#"), ("Délégations", url_for("establishment.delegations")),
                                       ("Nouveau mot de passe", request.path)]), status


@blueprint.get("/audit")
@console_page(RIGHT_AUDIT)
def audit_page():
    """J2: who did what, when, on which account or setting — for the head of school."""
    form = AuditFilterForm(request.args)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with runtime_of().uow() as uow:
        form.personnel.choices = [("", "Tous")] + [
            (login, login) for login in audit_log.staff_logins(uow.session, g.school.uai)
        ]
        form.action.choices = [("", "Toutes")] + sorted(
            ((code, audit_action(code)) for code in audit_log.actions(uow.session, g.school.uai)),
            key=lambda choice: french_order(choice[1]))
        form.validate()
        query = audit_log.AuditQuery(staff_login=form.personnel.data or None, action=form.action.data or None,
                                     text=form.texte.data or None, since=form.du.data, until=form.au.data, page=page)
        entries, total = audit_log.search(uow.session, g.school.uai, query)
    pages = max((total + query.per_page - 1) // query.per_page, 1)
    arguments = {key: value for key, value in request.args.items() if key != "page"}
    return render_template("accounts/establishment/audit.html", form=form, entries=entries, total=total, page=page,
                           audit_target=audit_target, audit_action=audit_action,
                           pages=pages, arguments=arguments,
                           breadcrumb=[("Établissement", "#"), ("Journal des actions", request.path)])
