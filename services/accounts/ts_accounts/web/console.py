"""Staff console « Administration Téléservices »: sign-in, sign-out and home."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ts_accounts.service_layer import schools as school_cases
from ts_accounts.service_layer.errors import AuthenticationFailed
from ts_accounts.service_layer.staff import sign_in_staff
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.staff_session import end_staff_session, staff_required, start_staff_session

console = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates")


class StaffLoginForm(FlaskForm):
    login = StringField("Identifiant", validators=[DataRequired("Saisissez votre identifiant."), Length(max=100)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only ever go back to a console page: no open redirect through ?next=."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/"


@console.route("/login", methods=["GET", "POST"])
def login():
    form = StaffLoginForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                signed_in = sign_in_staff(uow, login=form.login.data, password=form.password.data)
                uow.commit()
        except AuthenticationFailed as error:
            flash(str(error), "error")
            return render_template("accounts/login.html", form=form), 401
        start_staff_session(
            staff_id=signed_in.staff_id, login=signed_in.login, display_name=signed_in.display_name,
            school_uai=signed_in.school_uai, school_name=signed_in.school_name, rights=signed_in.rights,
            academy_admin=signed_in.academy_admin, lifetime_minutes=settings_of().staff_session_minutes,
        )
        current_app.logger.info("staff %s signed in", signed_in.login)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@console.post("/logout")
@staff_required()
def logout():
    end_staff_session()
    flash("Vous êtes déconnecté.", "info")
    return redirect("/admin/login")


@console.get("/")
@staff_required()
def home():
    school = None
    if g.staff.school_uai:
        with runtime_of().uow() as uow:
            school = school_cases.get_school(uow, g.staff.school_uai)
    return render_template("accounts/home.html", school=school)
