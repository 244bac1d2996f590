"""Menu « Académie » of academy administrators: the schools (identity block, SIECLE modules,
email addresses, heads), the academies' catalogues (services offered to schools, ENT
addresses, TIPI reference list) and the pending continuities of access (B8). An administrator sees the academy they manage (every academy
for a national administrator); another academy's pages answer 404."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ts_accounts.domain.credentials import STAFF_PASSWORD_MIN
from ts_accounts.service_layer import academy as cases
from ts_accounts.service_layer import continuity
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.service_layer.schools import SIECLE_MODULES
from ts_accounts.service_layer.staff import appoint_head
from ts_accounts.web.console.common import console_page, done, failed
from ts_accounts.web.console.services import valid_email
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import at_most, required

blueprint = Blueprint("console_academy", __name__, url_prefix="/admin/academy", template_folder="templates")

SCHOOLS = ("Établissements", "/admin/academy/schools")
SERVICES = ("Services de l'académie", "/admin/academy/services")
CONTINUITY = ("Continuité d'accès", "/admin/academy/continuity")
EXPIRED = "Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez."


def _menu(*extra) -> list[tuple[str, str]]:
    return [("Académie", SCHOOLS[1]), *extra]


# --- schools -------------------------------------------------------------------------------------

class AddSchoolForm(FlaskForm):
    uai = StringField("Code UAI", description="7 chiffres et une lettre, par exemple 0541234X.",
                      validators=[required("le code UAI"), at_most(12)])
    name = StringField("Nom de l'établissement", validators=[required("le nom de l'établissement"), at_most(200)])
    academy_code = StringField("Code de l'académie", description="Par exemple NCY (10 caractères au plus).",
                               validators=[required("le code de l'académie"), at_most(10),
                                           Regexp(r"^\s*[A-Za-z0-9_-]+\s*$", message="Le code de l'académie se "
                                                                                     "compose de lettres et de chiffres.")])
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


class SchoolEmailForm(FlaskForm):
    email_address = EmailField("Adresse électronique", validators=[required("l'adresse électronique"),
                                                                   at_most(254), valid_email()])
    email_label = StringField("Libellé (facultatif)", description="Par exemple « Secrétariat » ou « Intendance ».",
                              validators=[Optional(), at_most(100)])


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


@blueprint.route("/schools", methods=["GET", "POST"])
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
                uow.commit()
        except AccountsError as error:
            message = str(error)
            field = (form.name if "nom de l'établissement" in message
                     else form.academy_code if "code de l'académie" in message else form.uai)
            field.errors = [*field.errors, message]
            status = 400
        else:
            flash(f"L'établissement {school.name} ({school.uai}) est ajouté. Complétez son identité et nommez son "
                  "chef d'établissement.", "success")
            return redirect(url_for("console_academy.school", uai=school.uai))
    elif request.method == "POST":
        status = 400
    with runtime_of().uow() as uow:
        groups = cases.schools_by_academy(uow, g.actor)
        if request.method == "GET":
            form.academy_code.data = cases.managed_academy(uow, g.actor)
    return render_template("accounts/academy/schools.html", form=form, groups=groups,
                           breadcrumb=_menu(SCHOOLS)), status


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
        breadcrumb=_menu(SCHOOLS, (f"{school.name} ({school.uai})", url_for("console_academy.school", uai=uai))),
    ), status


@blueprint.route("/schools/<uai>", methods=["GET", "POST"])
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
            uow.commit()
    except NotFound as error:
        failed(str(error))
        return redirect(url_for("console_academy.schools"))
    except AccountsError as error:
        form.name.errors = [*form.name.errors, str(error)]
        return _school_page(uai, identity_form=form, status=400)
    if not changed:
        flash("Aucun changement : l'identité de l'établissement est restée la même.", "info")
        return redirect(url_for("console_academy.school", uai=uai))
    return done(f"Identité de l'établissement enregistrée ({', '.join(changed)}).", "console_academy.school", uai=uai)


@blueprint.post("/schools/<uai>/emails")
@console_page(academy=True)
def add_email(uai: str):
    form = SchoolEmailForm()
    if not form.validate_on_submit():
        return _school_page(uai, email_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            email = cases.add_school_email(uow, g.actor, uai, address=form.email_address.data,
                                           label=form.email_label.data)
            uow.commit()
            address = email.address
    except NotFound as error:
        failed(str(error))
        return redirect(url_for("console_academy.schools"))
    except AccountsError as error:
        form.email_address.errors = [*form.email_address.errors, str(error)]
        return _school_page(uai, email_form=form, status=400)
    return done(f"L'adresse {address} est ajoutée.", "console_academy.school", uai=uai)


class ConfirmForm(FlaskForm):
    """A button: only the CSRF token."""


@blueprint.post("/schools/<uai>/emails/<int:email_id>/delete")
@console_page(academy=True)
def remove_email(uai: str, email_id: int):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("console_academy.school", uai=uai))
    try:
        with runtime_of().uow() as uow:
            email, was_contact = cases.remove_school_email(uow, g.actor, uai, email_id)
            uow.commit()
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("console_academy.school", uai=uai))
    if was_contact:
        flash(f"L'adresse {email.address} est supprimée. C'était l'adresse du lien de contact : le portail ne propose "
              "plus ce lien tant que l'établissement n'en a pas choisi une autre.", "warning")
        return redirect(url_for("console_academy.school", uai=uai))
    return done(f"L'adresse {email.address} est supprimée.", "console_academy.school", uai=uai)


@blueprint.post("/schools/<uai>/head")
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
            uow.commit()
            who = f"{staff.display_name} ({staff.login})"
    except NotFound as error:
        failed(str(error))
        return redirect(url_for("console_academy.schools"))
    except AccountsError as error:
        message = str(error)
        field = (form.head_password if "mot de passe" in message
                 else form.head_display_name if "nom affiché" in message else form.head_login)
        field.errors = [*field.errors, message]
        return _school_page(uai, head_form=form, status=400)
    return done(f"{who} est nommé(e) chef d'établissement : cette personne peut se connecter à la console avec son "
                "identifiant.", "console_academy.school", uai=uai)


# --- the academies' catalogues -------------------------------------------------------------------

class AcademicServiceForm(FlaskForm):
    service_label = StringField("Libellé du service académique", description="Par exemple « Service académique 1 ».",
                                validators=[required("le libellé"), at_most(200)])
    service_url = StringField("Adresse du service", description="L'adresse complète, par exemple "
                                                                "https://services.ac-nancy-metz.fr/.",
                              validators=[required("l'adresse du service"), at_most(500)],
                              render_kw={"type": "url"})


class EntLinkForm(FlaskForm):
    ent_label = StringField("Nom de l'ENT", validators=[required("le nom de l'ENT"), at_most(200)])
    ent_url = StringField("Adresse de l'ENT", validators=[required("l'adresse de l'ENT"), at_most(500)],
                          render_kw={"type": "url"})


class TipiClientForm(FlaskForm):
    tipi_number = StringField("Numéro client TIPI", validators=[required("le numéro client TIPI"), at_most(40)])
    tipi_holder = StringField("Titulaire", description="Par exemple « Agence comptable du lycée Henri Poincaré ».",
                              validators=[required("le titulaire"), at_most(200)])


FLAG_CHANGES = {"enable": {"enabled": True}, "disable": {"enabled": False}, "mandatory": {"mandatory": True},
                "optional": {"mandatory": False}}


def _catalogue_page(academy_code: str | None, *, service_form=None, ent_form=None, tipi_form=None, status=200):
    with runtime_of().uow() as uow:
        academies = cases.academies(uow, g.actor)
        if not academies:
            return render_template("accounts/academy/services.html", academies=[], catalogue=None,
                                   breadcrumb=_menu(SERVICES)), status
        code = (academy_code or academies[0].code).strip().upper()
        try:
            catalogue = cases.catalogue(uow, g.actor, code)
        except NotFound:
            return render_template("ts_error.html", status=404, message=f"L'académie {code} n'existe pas."), 404
    return render_template(
        "accounts/academy/services.html", academies=academies, catalogue=catalogue,
        service_form=service_form or AcademicServiceForm(formdata=None),
        ent_form=ent_form or EntLinkForm(formdata=None),
        tipi_form=tipi_form or TipiClientForm(formdata=None), siecle_modules=SIECLE_MODULES,
        nationally_mandatory=cases.NATIONALLY_MANDATORY, breadcrumb=_menu(SERVICES)), status


def _back(academy_code: str):
    return redirect(url_for("console_academy.services", academy=academy_code))


@blueprint.get("/services")
@console_page(academy=True)
def services():
    """Per academy: the services offered to its schools, its ENT addresses, its TIPI clients."""
    return _catalogue_page(request.args.get("academy"))


@blueprint.post("/services/<academy_code>/<code>/flags")
@console_page(academy=True)
def service_flags(academy_code: str, code: str):
    change = FLAG_CHANGES.get(request.form.get("change", ""))
    if not ConfirmForm().validate_on_submit() or change is None:
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            service = cases.set_service_flags(uow, g.actor, academy_code, code, **change)
            uow.commit()
            label = service.label
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    messages = {
        "enable": f"Le téléservice {label} est proposé aux établissements de l'académie.",
        "disable": f"Le téléservice {label} n'est plus proposé aux établissements de l'académie.",
        "mandatory": f"Le téléservice {label} est obligatoire dans l'académie : il est ouvert dans tous ses "
                     "établissements.",
        "optional": f"Le téléservice {label} est facultatif : chaque établissement choisit de l'ouvrir.",
    }
    flash(messages[request.form["change"]], "success")
    return _back(academy_code)


@blueprint.post("/services/<academy_code>/academic")
@console_page(academy=True)
def add_academic_service(academy_code: str):
    form = AcademicServiceForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, service_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            service = cases.add_academic_service(uow, g.actor, academy_code, label=form.service_label.data,
                                                 url=form.service_url.data)
            uow.commit()
            label = service.label
    except AccountsError as error:
        field = form.service_url if "adresse" in str(error).lower() else form.service_label
        field.errors = [*field.errors, str(error)]
        return _catalogue_page(academy_code, service_form=form, status=400)
    flash(f"Le téléservice académique « {label} » est ajouté ; chaque établissement peut maintenant l'ouvrir.",
          "success")
    return _back(academy_code)


def _academic_service(academy_code: str, code: str):
    """The catalogue and one of its academic services; or, when either is gone, the page to go
    back to (its message flashed)."""
    with runtime_of().uow() as uow:
        try:
            catalogue = cases.catalogue(uow, g.actor, academy_code)
        except NotFound as error:
            failed(str(error))
            return None, None, redirect(url_for("console_academy.services"))
    service = next((s for s in catalogue.academic if s.code == code), None)
    if service is None:
        failed("Ce téléservice académique n'existe pas.")
        return catalogue, None, _back(catalogue.academy.code)
    return catalogue, service, None


@blueprint.route("/services/<academy_code>/academic/<code>", methods=["GET", "POST"])
@console_page(academy=True)
def edit_academic_service(academy_code: str, code: str):
    catalogue, service, elsewhere = _academic_service(academy_code, code)
    if elsewhere:
        return elsewhere
    form = AcademicServiceForm() if request.method == "POST" else AcademicServiceForm(
        formdata=None, data={"service_label": service.label, "service_url": service.url})
    status = 200
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                cases.update_academic_service(uow, g.actor, catalogue.academy.code, code,
                                              label=form.service_label.data, url=form.service_url.data)
                uow.commit()
        except AccountsError as error:
            field = form.service_url if "adresse" in str(error).lower() else form.service_label
            field.errors = [*field.errors, str(error)]
            status = 400
        else:
            flash(f"Le téléservice académique « {form.service_label.data.strip()} » est enregistré.", "success")
            return _back(catalogue.academy.code)
    elif request.method == "POST":
        status = 400
    return render_template("accounts/academy/service_edit.html", form=form, service=service,
                           academy=catalogue.academy,
                           breadcrumb=_menu(SERVICES, (service.label, request.path))), status


@blueprint.route("/services/<academy_code>/academic/<code>/delete", methods=["GET", "POST"])
@console_page(academy=True)
def delete_academic_service(academy_code: str, code: str):
    """A confirmation first: the schools that opened the service lose it."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                service = cases.delete_academic_service(uow, g.actor, academy_code, code)
                uow.commit()
        except AccountsError as error:
            failed(str(error))
            return _back(academy_code)
        flash(f"Le téléservice académique « {service.label} » est supprimé.", "success")
        return _back(academy_code)
    catalogue, service, elsewhere = _academic_service(academy_code, code)
    if elsewhere:
        return elsewhere
    if request.method == "POST":
        failed(EXPIRED)
    return render_template("accounts/academy/service_delete.html", form=form, service=service,
                           academy=catalogue.academy,
                           breadcrumb=_menu(SERVICES, (service.label, request.path))), \
        400 if request.method == "POST" else 200


@blueprint.post("/services/<academy_code>/ent")
@console_page(academy=True)
def add_ent_link(academy_code: str):
    form = EntLinkForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, ent_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            link = cases.add_ent_link(uow, g.actor, academy_code, label=form.ent_label.data, url=form.ent_url.data)
            uow.commit()
            label = link.label
    except AccountsError as error:
        field = form.ent_url if "adresse" in str(error).lower() else form.ent_label
        field.errors = [*field.errors, str(error)]
        return _catalogue_page(academy_code, ent_form=form, status=400)
    flash(f"L'ENT « {label} » est ajouté à la liste de l'académie.", "success")
    return _back(academy_code)


@blueprint.post("/services/<academy_code>/ent/<int:link_id>/delete")
@console_page(academy=True)
def remove_ent_link(academy_code: str, link_id: int):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            link = cases.remove_ent_link(uow, g.actor, academy_code, link_id)
            uow.commit()
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    flash(f"L'ENT « {link.label} » est retiré de la liste de l'académie.", "success")
    return _back(academy_code)


@blueprint.post("/services/<academy_code>/tipi")
@console_page(academy=True)
def add_tipi_client(academy_code: str):
    form = TipiClientForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, tipi_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            client = cases.add_tipi_client(uow, g.actor, academy_code, number=form.tipi_number.data,
                                           holder=form.tipi_holder.data)
            uow.commit()
            number = client.number
    except AccountsError as error:
        field = form.tipi_holder if "titulaire" in str(error).lower() else form.tipi_number
        field.errors = [*field.errors, str(error)]
        return _catalogue_page(academy_code, tipi_form=form, status=400)
    flash(f"Le numéro client TIPI {number} est ajouté au référentiel de l'académie.", "success")
    return _back(academy_code)


@blueprint.post("/services/<academy_code>/tipi/<number>/delete")
@console_page(academy=True)
def remove_tipi_client(academy_code: str, number: str):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            cases.remove_tipi_client(uow, g.actor, academy_code, number)
            uow.commit()
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    flash(f"Le numéro client TIPI {number} est retiré du référentiel de l'académie.", "success")
    return _back(academy_code)


# --- continuity of access (B8) -------------------------------------------------------------------

class ResetAuthorisationForm(FlaskForm):
    account_login = StringField("Identifiant du compte conservé",
                                description="Par exemple lea.dupont : la famille a perdu son mot de passe et n'a pas "
                                            "d'adresse électronique confirmée pour le retrouver.",
                                validators=[required("l'identifiant"), at_most(100)])


def _continuity_page(reset_form: ResetAuthorisationForm | None = None, status: int = 200):
    with runtime_of().uow() as uow:
        lines = continuity.pending_report(uow, g.actor, now=utcnow())
    return render_template("accounts/academy/continuity.html", lines=lines, form=ConfirmForm(),
                           reset_form=reset_form or ResetAuthorisationForm(formdata=None),
                           conflict_days=continuity.CONFLICT_AFTER.days, breadcrumb=_menu(CONTINUITY)), status


@blueprint.get("/continuity")
@console_page(academy=True)
def continuity_report():
    """Pending continuities of access, conflicts first: the student is enrolled in both schools."""
    return _continuity_page()


def _resolve(continuity_id: int, resolve, message: str):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("console_academy.continuity_report"))
    try:
        with runtime_of().uow() as uow:
            claim = resolve(uow, g.actor, continuity_id, now=utcnow())
            student = f"{claim.student.first_name} {claim.student.display_last_name}"
            uow.commit()
    except NotFound as error:
        return render_template("ts_error.html", status=404, message=str(error)), 404
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("console_academy.continuity_report"))
    return done(message.format(student=student), "console_academy.continuity_report")


@blueprint.post("/continuity/<int(max=2147483647):continuity_id>/confirm")
@console_page(academy=True)
def confirm_continuity(continuity_id: int):
    """Confirm the move: the accounts are handed over to the arriving school now."""
    return _resolve(continuity_id, continuity.confirm_move,
                    "Changement d'établissement confirmé pour {student} : ses comptes servent désormais "
                    "l'établissement d'arrivée ; la famille en est informée par courriel.")


@blueprint.post("/continuity/<int(max=2147483647):continuity_id>/refuse")
@console_page(academy=True)
def refuse_continuity(continuity_id: int):
    """Refuse continuity: the arriving school gets new accounts, to notify."""
    return _resolve(continuity_id, continuity.refuse_continuity,
                    "Continuité d'accès refusée pour {student} : l'établissement d'arrivée a de nouveaux comptes, "
                    "à notifier ; les comptes de l'établissement précédent restent inchangés.")


@blueprint.post("/continuity/reset-authorisation")
@console_page(academy=True)
def authorise_reset():
    """Let the school a used account was continued into reset it before the family signs in."""
    form = ResetAuthorisationForm()
    if not form.validate_on_submit():
        return _continuity_page(form, status=400)
    try:
        with runtime_of().uow() as uow:
            account, school = continuity.authorise_reset(uow, g.actor, form.account_login.data, now=utcnow())
            uow.commit()
            message = (f"{school.name} ({school.uai}) peut désormais réinitialiser le mot de passe du compte "
                       f"{account.login} (renotification avec réinitialisation).")
    except AccountsError as error:
        form.account_login.errors = [*form.account_login.errors, str(error)]
        return _continuity_page(form, status=400)
    return done(message, "console_academy.continuity_report")
