"""« Continuité d'accès » (B8): the pending continuities of the academy, conflicts first, and the
administrator's decisions — confirm a move, refuse continuity, let a school reset a continued
account. Each view calls one use case of `service_layer.continuity`, which records the entries of
both schools' audit logs and commits."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from ts_accounts.service_layer import continuity
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.web.console.academy import CONTINUITY, menu
from ts_accounts.web.console.common import EXPIRED, TEMPLATES, console_page, done, failed, show_errors
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm, at_most, required

blueprint = Blueprint("academy_continuity", __name__, url_prefix="/admin/academy/continuity",
                      template_folder=TEMPLATES)


class ResetAuthorisationForm(FlaskForm):
    account_login = StringField("Identifiant du compte conservé",
                                description="Par exemple lea.dupont : la famille a perdu son mot de passe et n'a pas "
                                            "d'adresse électronique confirmée pour le retrouver.",
                                validators=[required("l'identifiant"), at_most(100)])


RESET_FIELDS = {"login": "account_login"}


def _continuity_page(reset_form: ResetAuthorisationForm | None = None, status: int = 200):
    with runtime_of().uow() as uow:
        lines = continuity.pending_report(uow, g.actor, now=utcnow())
    return render_template("accounts/academy/continuity.html", lines=lines, form=ConfirmForm(),
                           reset_form=reset_form or ResetAuthorisationForm(formdata=None),
                           conflict_days=continuity.CONFLICT_AFTER.days, breadcrumb=menu(CONTINUITY)), status


@blueprint.get("")
@console_page(academy=True)
def continuity_report():
    """Pending continuities of access, conflicts first: the student is enrolled in both schools."""
    return _continuity_page()


def _resolve(continuity_id: int, resolve, message: str):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("academy_continuity.continuity_report"))
    try:
        with runtime_of().uow() as uow:
            claim = resolve(uow, g.actor, continuity_id, now=utcnow())
            student = f"{claim.student.first_name} {claim.student.display_last_name}"
    except NotFound as error:
        return render_template("ts_error.html", status=404, message=str(error)), 404
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("academy_continuity.continuity_report"))
    return done(message.format(student=student), "academy_continuity.continuity_report")


@blueprint.post("/<int(max=2147483647):continuity_id>/confirm")
@console_page(academy=True)
def confirm_continuity(continuity_id: int):
    """Confirm the move: the accounts are handed over to the arriving school now."""
    return _resolve(continuity_id, continuity.confirm_move,
                    "Changement d'établissement confirmé pour {student} : ses comptes servent désormais "
                    "l'établissement d'arrivée ; la famille en est informée par courriel.")


@blueprint.post("/<int(max=2147483647):continuity_id>/refuse")
@console_page(academy=True)
def refuse_continuity(continuity_id: int):
    """Refuse continuity: the arriving school gets new accounts, to notify."""
    return _resolve(continuity_id, continuity.refuse_continuity,
                    "Continuité d'accès refusée pour {student} : l'établissement d'arrivée a de nouveaux comptes, "
                    "à notifier ; les comptes de l'établissement précédent restent inchangés.")


@blueprint.post("/reset-authorisation")
@console_page(academy=True)
def authorise_reset():
    """Let the school a used account was continued into reset it before the family signs in."""
    form = ResetAuthorisationForm()
    if not form.validate_on_submit():
        return _continuity_page(form, status=400)
    try:
        with runtime_of().uow() as uow:
            account, school = continuity.authorise_reset(uow, g.actor, form.account_login.data, now=utcnow())
    except AccountsError as error:
        show_errors(form, error, RESET_FIELDS)
        return _continuity_page(form, status=400)
    return done(f"{school.name} ({school.uai}) peut désormais réinitialiser le mot de passe du compte "
                f"{account.login} (renotification avec réinitialisation).", "academy_continuity.continuity_report")
