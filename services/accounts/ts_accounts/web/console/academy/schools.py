"""« Établissements »: every school of the academy, its identity block and SIECLE modules, its
email addresses and its heads; adding a school. Each view calls one use case of
`service_layer.academy` (or `staff.appoint_head`), which records the audit entry, announces the
school's settings and commits."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ts_accounts.domain.credentials import STAFF_PASSWORD_MIN
from ts_accounts.service_layer import academy as cases
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.service_layer.schools import SIECLE_MODULES
from ts_accounts.service_layer.staff import appoint_head
from ts_accounts.web.console.academy import SCHOOLS, menu
from ts_accounts.web.console.common import EXPIRED, TEMPLATES, console_page, done, failed, show_errors
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm, at_most, required, valid_email

blueprint = Blueprint("academy_schools", __name__, url_prefix="/admin/academy/schools", template_folder=TEMPLATES)


class AddSchoolForm(FlaskForm):
    uai = StringField("Code UAI", description="7 chiffres et une lettre, par exemple 0541234X.",
                      validators=[required("le code UAI"), at_most(12)])
    name = StringField("Nom de l'établissement", validators=[required("le nom de l'établissement"), at_most(200)])
    academy_code = StringField(
        "Code de l'académie",
        description="Par exemple NCY (10 caractères au plus).",
        validators=[
            required("le code de l'académie"),
            at_most(10),
            Regexp(r"^\s*[A-Za-z0-9_-]+\s*$", message="Le code de l'académie se compose de lettres et de chiffres."),
        ],
    )
    city = StringField("Commune", validators=[Optional(), at_most(100)])


def _address_line(number: int):
    limit = cases.ADDRESS_LINE_MAX
    return StringField(f"Ligne {number} de l'adresse",
                       validators=[Optional(), Length(max=limit, message=f"{limit} caractères au plus par ligne.")])


class IdentityForm(FlaskForm):
    name = StringField("Nom de l'établissement", validators=[required("le nom de l'établissement"), at_most(200)])
    address_line_1 = _address_line(1)
    address_line_2 = _address_line(2)
    address_line_3 = _address_line(3)
    address_line_4 = _address_line(4)
    postal_code = StringField("Code postal", validators=[
        Optional(), Regexp(r"^\d{5}$", message="Le code postal se compose de 5 chiffres.")])
    city = StringField("Commune", validators=[Optional(), at_most(100)])
    phone = StringField("Téléphone", description="Affiché sur la page de contact du portail.",
                        validators=[Optional(), at_most(40),
                                    Regexp(r"^[0-9+(). -]{6,40}$",
                                           message="Le numéro ne peut contenir que des chiffres, des espaces et "
                                                   "« + . - ( ) ».")])
    siecle_modules = SelectMultipleField("Modules SIECLE utilisés par l'établissement",
                                         choices=[SelectChoice(code, label) for code, label in SIECLE_MODULES.items()],
                                         validate_choice=False, widget=ListWidget(prefix_label=False),
                                         option_widget=CheckboxInput())

    def validate_siecle_modules(self, field):
        unknown = set(field.data or []) - set(SIECLE_MODULES)
        if unknown:
            raise ValidationError(f"Module SIECLE inconnu : {', '.join(sorted(unknown))}.")

    @property
    def address_lines(self) -> list[str]:
        return [getattr(self, f"address_line_{n}").data or "" for n in range(1, cases.MAX_ADDRESS_LINES + 1)]


IDENTITY_FIELDS = {"address_lines": "address_line_1"}


class SchoolEmailForm(FlaskForm):
    email_address = EmailField("Adresse électronique", validators=[required("l'adresse électronique"),
                                                                   at_most(254), valid_email()])
    email_label = StringField("Libellé (facultatif)", description="Par exemple « Secrétariat » ou « Intendance ».",
                              validators=[Optional(), at_most(100)])


EMAIL_FIELDS = {"address": "email_address", "label": "email_label"}


class HeadForm(FlaskForm):
    head_login = StringField("Identifiant du chef d'établissement",
                             description="Celui d'un personnel qui a déjà un compte, ou l'identifiant à créer.",
                             validators=[required("l'identifiant"), at_most(100)])
    head_display_name = StringField("Nom affiché (nouveau compte)", description="Par exemple « Mme Claire Martin ».",
                                    validators=[Optional(), at_most(200)])
    head_email = EmailField("Adresse électronique (nouveau compte, facultative)",
                            validators=[Optional(), at_most(254), valid_email()])
    head_password = PasswordField("Mot de passe initial (nouveau compte)",
                                  description=f"{STAFF_PASSWORD_MIN} caractères au moins ; à communiquer à la "
                                              "personne.",
                                  validators=[Optional(), at_most(200)])


HEAD_FIELDS = {"login": "head_login", "display_name": "head_display_name", "email": "head_email",
               "initial_password": "head_password"}


@blueprint.route("", methods=["GET", "POST"])
@console_page(academy=True)
def schools():
    """Every school, grouped by academy; add a school."""
    form = AddSchoolForm()
    status = 200
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                school = cases.create_school(uow, g.actor, uai=form.uai.data, name=form.name.data,
                                             academy_code=form.academy_code.data, city=form.city.data)
        except AccountsError as error:
            show_errors(form, error)
            status = 400
        else:
            flash(f"L'établissement {school.name} ({school.uai}) est ajouté. Complétez son identité et nommez son "
                  "chef d'établissement.", "success")
            return redirect(url_for("academy_schools.school", uai=school.uai))
    elif request.method == "POST":
        status = 400
    with runtime_of().uow() as uow:
        groups = cases.schools_by_academy(uow, g.actor)
        if request.method == "GET":
            form.academy_code.data = cases.managed_academy(uow, g.actor)
    return render_template("accounts/academy/schools.html", form=form, groups=groups,
                           breadcrumb=menu(SCHOOLS)), status


def _school_page(uai: str, *, identity_form: IdentityForm | None = None, email_form: SchoolEmailForm | None = None,
                 head_form: HeadForm | None = None, status: int = 200):
    with runtime_of().uow() as uow:
        try:
            detail = cases.school_detail(uow, g.actor, uai)
        except NotFound:
            return render_template("ts_error.html", status=404, message="Cet établissement n'existe pas."), 404
    school = detail.school
    if identity_form is None:
        lines = list(school.address_lines or []) + [""] * cases.MAX_ADDRESS_LINES
        identity_form = IdentityForm(formdata=None, data={
            "name": school.name, "postal_code": school.postal_code, "city": school.city, "phone": school.phone,
            "siecle_modules": list(school.siecle_modules or []),
            **{f"address_line_{n}": lines[n - 1] for n in range(1, cases.MAX_ADDRESS_LINES + 1)}})
    return render_template(
        "accounts/academy/school.html", detail=detail, school=school, identity_form=identity_form,
        email_form=email_form or SchoolEmailForm(formdata=None), head_form=head_form or HeadForm(formdata=None),
        breadcrumb=menu(SCHOOLS, (f"{school.name} ({school.uai})", url_for("academy_schools.school", uai=uai))),
    ), status


def _school_gone(error: NotFound):
    failed(str(error))
    return redirect(url_for("academy_schools.schools"))


@blueprint.route("/<uai>", methods=["GET", "POST"])
@console_page(academy=True)
def school(uai: str):
    """The school's identity block and SIECLE modules (announced to the portal)."""
    if request.method == "GET":
        return _school_page(uai)
    form = IdentityForm()
    if not form.validate_on_submit():
        return _school_page(uai, identity_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            changed = cases.update_identity(uow, g.actor, uai, name=form.name.data, address_lines=form.address_lines,
                                            postal_code=form.postal_code.data, city=form.city.data,
                                            phone=form.phone.data, siecle_modules=form.siecle_modules.data or [])
    except NotFound as error:
        return _school_gone(error)
    except AccountsError as error:
        show_errors(form, error, IDENTITY_FIELDS)
        return _school_page(uai, identity_form=form, status=400)
    if not changed:
        flash("Aucun changement : l'identité de l'établissement est restée la même.", "info")
        return redirect(url_for("academy_schools.school", uai=uai))
    return done(f"Identité de l'établissement enregistrée ({', '.join(changed)}).", "academy_schools.school", uai=uai)


@blueprint.post("/<uai>/emails")
@console_page(academy=True)
def add_email(uai: str):
    form = SchoolEmailForm()
    if not form.validate_on_submit():
        return _school_page(uai, email_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            email = cases.add_school_email(uow, g.actor, uai, address=form.email_address.data,
                                           label=form.email_label.data)
    except NotFound as error:
        return _school_gone(error)
    except AccountsError as error:
        show_errors(form, error, EMAIL_FIELDS)
        return _school_page(uai, email_form=form, status=400)
    return done(f"L'adresse {email.address} est ajoutée.", "academy_schools.school", uai=uai)


@blueprint.post("/<uai>/emails/<int:email_id>/delete")
@console_page(academy=True)
def remove_email(uai: str, email_id: int):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("academy_schools.school", uai=uai))
    try:
        with runtime_of().uow() as uow:
            email, was_contact = cases.remove_school_email(uow, g.actor, uai, email_id)
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("academy_schools.school", uai=uai))
    if was_contact:
        flash(f"L'adresse {email.address} est supprimée. C'était l'adresse du lien de contact : le portail ne propose "
              "plus ce lien tant que l'établissement n'en a pas choisi une autre.", "warning")
        return redirect(url_for("academy_schools.school", uai=uai))
    return done(f"L'adresse {email.address} est supprimée.", "academy_schools.school", uai=uai)


@blueprint.post("/<uai>/head")
@console_page(academy=True)
def head(uai: str):
    """Name the head of school: an existing staff member, or a new one created here."""
    form = HeadForm()
    if not form.validate_on_submit():
        return _school_page(uai, head_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            staff = appoint_head(uow, g.actor, uai=uai, login=form.head_login.data,
                                 display_name=(form.head_display_name.data or "").strip() or None,
                                 email=form.head_email.data, initial_password=form.head_password.data or None)
    except NotFound as error:
        return _school_gone(error)
    except AccountsError as error:
        show_errors(form, error, HEAD_FIELDS)
        return _school_page(uai, head_form=form, status=400)
    return done(f"{staff.display_name} ({staff.login}) est nommé(e) chef d'établissement : cette personne peut se "
                "connecter à la console avec son identifiant.", "academy_schools.school", uai=uai)
