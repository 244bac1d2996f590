"""Console sign-in, sign-out, choice of school, home page and activation of online services (C1)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import DataRequired

from ts_accounts.service_layer import schools as school_cases
from ts_accounts.service_layer.errors import AuthenticationFailed
from ts_accounts.service_layer.staff import current_access, schools_of, sign_in_staff
from ts_accounts.service_layer.throttling import Throttled
from ts_accounts.service_layer.school_year import TO_NOTIFY_AT_RENTREE, rentree_reminder
from ts_accounts.web.console.common import console_page
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.forms import ConfirmForm, at_most
from ts_shared.web.staff_session import (
    RIGHT_SERVICES, StaffIdentity, end_staff_session, staff_required, start_staff_session, switch_school,
)

blueprint = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates")


class StaffLoginForm(FlaskForm):
    login = StringField("Identifiant", validators=[DataRequired("Saisissez votre identifiant."), at_most(100)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."), at_most(200)])


class SchoolChoiceForm(FlaskForm):
    uai = RadioField("Établissement", validators=[DataRequired("Choisissez un établissement.")])


def _safe_next(target: str | None) -> str:
    """Only ever go back to a console page: no open redirect through ?next=."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/"


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = StaffLoginForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                signed_in = sign_in_staff(uow, login=form.login.data, password=form.password.data,
                                          client_address=request.remote_addr)
        except (AuthenticationFailed, Throttled) as error:
            flash(str(error), "error")
            return render_template("accounts/login.html", form=form), 429 if isinstance(error, Throttled) else 401
        school = signed_in.first_school
        start_staff_session(staff_id=signed_in.staff_id, school_uai=school.uai if school else None,
                            lifetime_minutes=settings_of().staff_session_minutes)
        current_app.logger.info("staff %s signed in", signed_in.login)
        if len(signed_in.schools) > 1 and not request.args.get("next"):
            return redirect(url_for("console.choose_school"))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form), 400 if form.is_submitted() else 200


@blueprint.post("/logout")
@staff_required()
def logout():
    end_staff_session()
    flash("Vous êtes déconnecté.", "info")
    return redirect("/admin/login")


@blueprint.route("/school", methods=["GET", "POST"])
@staff_required()
def choose_school():
    """A head or delegate of several schools chooses the one to work on."""
    identity: StaffIdentity = g.staff
    with runtime_of().uow() as uow:
        staff, _ = current_access(uow, identity.staff_id, identity.school_uai)
        schools = schools_of(staff)
    form = SchoolChoiceForm()
    form.uai.choices = [(school.uai, f"{school.name} ({school.uai})") for school in schools]
    if form.validate_on_submit():
        chosen = next(school for school in schools if school.uai == form.uai.data)
        switch_school(chosen.uai)
        flash(f"Vous travaillez maintenant sur {chosen.name}.", "success")
        return redirect("/admin/")
    form.uai.data = form.uai.data or identity.school_uai
    return render_template("accounts/choose_school.html", form=form)


@blueprint.get("/")
@console_page(school_optional=True)
def home():
    """The school at a glance (the activation screen comes first while not activated)."""
    if g.school is None:
        if g.staff.academy_admin:
            return redirect("/admin/academy/schools")
        return render_template("accounts/home.html", school=None, overview=None)
    with runtime_of().uow() as uow:
        overview = school_cases.school_overview(uow, g.school.uai)
        rentree = rentree_reminder(uow.session, g.school, now=utcnow())
    return render_template("accounts/home.html", school=g.school, overview=overview, rentree=rentree,
                           rentree_states=TO_NOTIFY_AT_RENTREE)


@blueprint.route("/activation", methods=["GET", "POST"])
@console_page(needs_activation=False)
def activation():
    """C1: the school activates its online services once; until then nothing else opens."""
    if g.school.services_activated_at is not None:
        return redirect("/admin/")
    form = ConfirmForm()
    may_activate = g.staff.can(RIGHT_SERVICES)
    if form.validate_on_submit():
        if not may_activate:
            flash("Seul le chef d'établissement (ou son délégué pour la gestion des téléservices) peut activer "
                  "les téléservices.", "error")
            return redirect(url_for("console.activation"))
        with runtime_of().uow() as uow:
            school_cases.activate_online_services(uow, g.actor, g.school.uai)
        flash("Les téléservices de l'établissement sont activés. Ouvrez maintenant les services proposés "
              "aux familles.", "success")
        return redirect("/admin/services/")
    return render_template("accounts/activation.html", form=form, may_activate=may_activate)
