"""« Mon compte »: a staff member sees who they are in the console and changes their password
(J1); their other sessions end at once."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request, session
from flask_wtf import FlaskForm
from wtforms import PasswordField

from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.staff import change_own_password, current_access, schools_of
from ts_accounts.service_layer.throttling import Throttled
from ts_accounts.web.console.common import console_page, done, show_errors
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import at_most, required

blueprint = Blueprint("my_account", __name__, url_prefix="/admin", template_folder="templates")


class StaffPasswordForm(FlaskForm):
    current_password = PasswordField("Mot de passe actuel", validators=[required("votre mot de passe actuel"),
                                                                        at_most(200)])
    new_password = PasswordField("Nouveau mot de passe", validators=[required("le nouveau mot de passe"),
                                                                     at_most(200)],
                                 description="10 caractères au moins ; pas un mot de passe courant, pas votre "
                                             "identifiant.")
    new_password_again = PasswordField("Nouveau mot de passe (confirmation)",
                                       validators=[required("de nouveau le nouveau mot de passe"),
                                                   at_most(200)])


def _page(form: StaffPasswordForm, status: int = 200):
    with runtime_of().uow() as uow:
        staff, _ = current_access(uow, g.staff.staff_id, g.staff.school_uai)
        schools = schools_of(staff)
    return render_template("accounts/my_account.html", form=form, schools=schools,
                           breadcrumb=[("Mon compte", request.path)]), status


@blueprint.route("/compte", methods=["GET", "POST"])
@console_page(needs_activation=False, school_optional=True)
def my_account():
    form = StaffPasswordForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        return _page(form, 400)
    try:
        with runtime_of().uow() as uow:
            change_own_password(uow, g.actor, school_uai=g.school.uai if g.school else None,
                                current_password=form.current_password.data, new_password=form.new_password.data,
                                new_password_again=form.new_password_again.data, current_session=session.sid)
    except Throttled as error:  # too many wrong current passwords
        form.current_password.errors = [*form.current_password.errors, str(error)]
        return _page(form, 429)
    except AccountsError as error:
        show_errors(form, error)
        return _page(form, 400)
    return done("Votre mot de passe a été modifié. Vos autres sessions ouvertes sont fermées.", "my_account.my_account")
