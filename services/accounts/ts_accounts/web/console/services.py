"""Menu « Gestion des téléservices » of a school: « Ouverture / fermeture » (C2), « Configuration
Notes » (C3) and « Paiement en ligne des factures » (C4)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from ts_accounts.service_layer import services as cases
from ts_accounts.service_layer.errors import AccountsError, InvalidInput, NotFound
from ts_accounts.web.console.common import EXPIRED, console_page, done, failed, show_errors
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm, FrenchDateField, at_most, required, valid_email
from ts_shared.web.staff_session import RIGHT_SERVICES

blueprint = Blueprint("console_services", __name__, url_prefix="/admin/services", template_folder="templates")

MENU_LABEL = ("Gestion des téléservices", "/admin/services/")
OPENING = "/admin/services/"


def _breadcrumb(label: str, url: str) -> list[tuple[str, str]]:
    return [MENU_LABEL, (label, url)]


# --- C2 « Ouverture / fermeture » ----------------------------------------------------------------

OPEN, CLOSED = "open", "closed"
FIELD_PREFIX = "service-"


def _wanted_from(form_data) -> dict[str, bool]:
    wanted = {}
    for key, value in form_data.items():
        if key.startswith(FIELD_PREFIX):
            if value not in (OPEN, CLOSED):
                raise InvalidInput("Choisissez « Ouvert » ou « Fermé » pour chaque téléservice.")
            wanted[key.removeprefix(FIELD_PREFIX)] = value == OPEN
    return wanted


@blueprint.route("/", methods=["GET", "POST"])
@console_page(RIGHT_SERVICES)
def opening():
    """C2: national services, then the academy's, each open or closed (one « Valider »). The form
    is the CSRF token; the services' radios (« service-<code> » = open | closed) are read from the
    request and checked by the use case, so a tampered post cannot open a locked service."""
    form = ConfirmForm()
    status = 200
    if form.validate_on_submit():
        try:
            wanted = _wanted_from(request.form)
            with runtime_of().uow() as uow:
                changes = cases.set_services(uow, g.actor, g.school.uai, wanted)
        except AccountsError as error:
            failed(str(error))
            status = 400
        else:
            if not changes:
                flash("Aucun changement : les téléservices sont restés dans le même état.", "info")
                return redirect(url_for("console_services.opening"))
            opened = [c.label for c in changes if c.opened]
            closed = [c.label for c in changes if not c.opened]
            parts = ([f"ouvert(s) : {', '.join(opened)}"] if opened else []) + \
                    ([f"fermé(s) : {', '.join(closed)} (leur paramétrage est conservé)"] if closed else [])
            return done("Téléservices " + " ; ".join(parts) + ".", "console_services.opening")
    elif request.method == "POST":
        failed(EXPIRED)
        status = 400
    with runtime_of().uow() as uow:
        choices = cases.service_choices(uow, g.school.uai)
    national = [c for c in choices if c.scope == "national"]
    academic = [c for c in choices if c.scope != "national"]
    return render_template("accounts/services/opening.html", form=form, national=national, academic=academic,
                           field_prefix=FIELD_PREFIX,
                           breadcrumb=_breadcrumb("Ouverture / fermeture", OPENING)), status


# --- C3 « Configuration Notes » ------------------------------------------------------------------

class NotesPublicationForm(FlaskForm):
    publication = RadioField("Publication des notes", choices=[
        SelectChoice(cases.CONTINUOUS, "Au fil de l'eau : les contrôles saisis par les enseignants sont publiés le "
                                       "lendemain de leur saisie (pour tout l'établissement)"),
        SelectChoice(cases.DEADLINE, "À échéance : seules les notes dont la date de publication est arrivée à échéance "
                                     "sont affichées ; une date d'échéance est définie par MEF et par division"),
    ], validators=[InputRequired("Choisissez le mode de publication des notes.")], validate_choice=False)

    def validate_publication(self, field):
        if field.data not in cases.PUBLICATION_LABELS:
            raise ValidationError("Choisissez la publication au fil de l'eau ou à échéance.")


class PublicationDateForm(FlaskForm):
    mef_code = HiddenField(validators=[InputRequired("MEF manquante."), at_most(20)])
    division = HiddenField(validators=[InputRequired("Division manquante."), at_most(40)])
    publication_date = FrenchDateField("Nouvelle date de publication", example="12/12/2026",
                                       validators=[required("une date au format JJ/MM/AAAA")])


def _notes_page(form: NotesPublicationForm | None = None, date_form: PublicationDateForm | None = None,
                status: int = 200):
    breadcrumb = _breadcrumb("Configuration Notes", url_for("console_services.notes"))
    with runtime_of().uow() as uow:
        try:
            configuration = cases.notes_configuration(uow, g.school.uai)
        except cases.ServiceClosed:
            return render_template("accounts/services/notes_closed.html", breadcrumb=breadcrumb), status
    if form is None:
        form = NotesPublicationForm(formdata=None, publication=configuration.publication)
    # The row whose « + » failed keeps what was typed and shows why (or a message, if that row
    # is not on the page).
    failed_pair = (date_form.mef_code.data, date_form.division.data) if date_form is not None else None
    if date_form is not None and failed_pair and (configuration.publication != cases.DEADLINE or not any(
            (pair.mef_code, pair.division) == failed_pair and pair.has_students for pair in configuration.pairs)):
        for error in date_form.publication_date.errors:
            failed(error)
    return render_template("accounts/services/notes.html", form=form, configuration=configuration,
                           date_form=date_form, failed_pair=failed_pair, deadline=cases.DEADLINE,
                           breadcrumb=breadcrumb), status


@blueprint.route("/notes", methods=["GET", "POST"])
@console_page(RIGHT_SERVICES)
def notes():
    """C3: « au fil de l'eau » or « à échéance »; back to « au fil de l'eau » asks to confirm when
    publication dates exist, as they will be lost."""
    form = NotesPublicationForm()
    if not form.validate_on_submit():
        return _notes_page(form if request.method == "POST" else None, status=400 if request.method == "POST" else 200)
    try:
        with runtime_of().uow() as uow:
            changed = cases.set_notes_publication(uow, g.actor, g.school.uai, form.publication.data)
    except cases.ConfirmationRequired as question:
        return render_template("accounts/services/notes_confirm.html", form=ConfirmForm(), dates=question.dates,
                               breadcrumb=_breadcrumb("Configuration Notes", url_for("console_services.notes")))
    except cases.ServiceClosed as error:
        failed(str(error))
        return redirect(url_for("console_services.notes"))
    except AccountsError as error:
        show_errors(form, error)
        return _notes_page(form, status=400)
    if not changed:
        flash("Aucun changement : le mode de publication est resté le même.", "info")
        return redirect(url_for("console_services.notes"))
    return done(f"Les notes sont désormais publiées {cases.PUBLICATION_LABELS[form.publication.data]}.",
                "console_services.notes")


@blueprint.post("/notes/continuous")
@console_page(RIGHT_SERVICES)
def notes_continuous_confirmed():
    """C3: the staff member confirmed going back to « au fil de l'eau »: the dates are deleted."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("console_services.notes"))
    try:
        with runtime_of().uow() as uow:
            cases.set_notes_publication(uow, g.actor, g.school.uai, cases.CONTINUOUS, confirmed=True)
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("console_services.notes"))
    return done("Les notes sont désormais publiées au fil de l'eau ; les dates de publication ont été supprimées.",
                "console_services.notes")


@blueprint.post("/notes/dates")
@console_page(RIGHT_SERVICES)
def add_publication_date():
    """C3 « + »: a publication date for one MEF × division."""
    form = PublicationDateForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors or form.mef_code.errors or form.division.errors:
            failed(EXPIRED)
            return redirect(url_for("console_services.notes"))
        return _notes_page(date_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            row = cases.add_publication_date(uow, g.actor, g.school.uai, mef_code=form.mef_code.data,
                                             division=form.division.data, day=form.publication_date.data)
            day = row.publication_date
    except cases.ServiceClosed as error:
        failed(str(error))
        return redirect(url_for("console_services.notes"))
    except AccountsError as error:
        show_errors(form, error, fields={"day": "publication_date"})
        return _notes_page(date_form=form, status=400)
    return done(f"Date de publication du {day:%d/%m/%Y} ajoutée pour la division {form.division.data}.",
                "console_services.notes")


@blueprint.post("/notes/dates/<int:date_id>/delete")
@console_page(RIGHT_SERVICES)
def remove_publication_date(date_id: int):
    """C3 « - »."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        failed(EXPIRED)
        return redirect(url_for("console_services.notes"))
    try:
        with runtime_of().uow() as uow:
            row = cases.remove_publication_date(uow, g.actor, g.school.uai, date_id)
    except NotFound:
        abort(404)
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("console_services.notes"))
    return done(f"Date de publication du {row.publication_date:%d/%m/%Y} supprimée pour la division {row.division}.",
                "console_services.notes")


# --- C4 « Paiement en ligne des factures » -------------------------------------------------------

def _check_amount(form, field):
    if field.data:
        try:
            cases.parse_amount(field.data)
        except InvalidInput as error:
            raise ValidationError(str(error)) from None


def _check_tipi_number(form, field):
    if field.data:
        try:
            cases.normalise_tipi_number(field.data)
        except InvalidInput as error:
            raise ValidationError(str(error)) from None


class PaymentForm(FlaskForm):
    tipi_client_number = StringField("Numéro client TIPI", description="Le numéro fourni par la DDFiP.",
                                     validators=[required("le numéro client TIPI"), at_most(40), _check_tipi_number])
    minimum_amount = StringField("Montant minimum (en euros)",
                                 description="Montant à partir duquel les familles peuvent payer en ligne, par exemple "
                                             "15,50.",
                                 validators=[required("le montant minimum"), at_most(20), _check_amount],
                                 render_kw={"inputmode": "decimal"})
    contact_email = EmailField("Adresse électronique de contact",
                               description="Pour communiquer avec les familles au sujet du paiement en ligne.",
                               validators=[required("l'adresse électronique de contact"), at_most(254),
                                           valid_email()])


class PaymentConfirmForm(FlaskForm):
    """The confirm screen carries what was typed; the use case checks it all again."""

    tipi_client_number = HiddenField(validators=[InputRequired()])
    minimum_amount = HiddenField(validators=[InputRequired()])
    contact_email = HiddenField(validators=[InputRequired()])


def _payment_page(form: PaymentForm | None, status: int = 200):
    with runtime_of().uow() as uow:
        configuration = cases.payment_configuration(uow, g.school.uai)
    if form is None:
        current = configuration.settings
        form = PaymentForm(formdata=None, data={
            "tipi_client_number": current.tipi_client_number,
            "minimum_amount": f"{current.minimum_amount:.2f}".replace(".", ","),
            "contact_email": current.contact_email,
        } if current else None)
    return render_template("accounts/services/payment.html", form=form, configuration=configuration,
                           french_amount=cases.french_amount,
                           breadcrumb=_breadcrumb("Paiement en ligne des factures",
                                                  url_for("console_services.payment"))), status


@blueprint.route("/payment", methods=["GET", "POST"])
@console_page(RIGHT_SERVICES)
def payment():
    """C4, step 1: the number is looked up in the TIPI reference list; found, the holder is shown
    for confirmation (nothing is saved yet); unknown, the number is refused."""
    form = PaymentForm()
    if request.method == "GET":
        return _payment_page(None)
    if not form.validate_on_submit():
        return _payment_page(form, status=400)
    try:
        with runtime_of().uow() as uow:
            checked = cases.check_payment(uow, g.school.uai, tipi_client_number=form.tipi_client_number.data,
                                          minimum_amount=form.minimum_amount.data,
                                          contact_email=form.contact_email.data)
    except AccountsError as error:  # the number is unknown (the form checked the rest)
        show_errors(form, error)
        return _payment_page(form, status=400)
    confirm = PaymentConfirmForm(formdata=None, data={
        "tipi_client_number": checked.tipi_client_number, "minimum_amount": str(checked.minimum_amount),
        "contact_email": checked.contact_email})
    return render_template("accounts/services/payment_confirm.html", form=confirm, checked=checked,
                           french_amount=cases.french_amount,
                           breadcrumb=_breadcrumb("Paiement en ligne des factures",
                                                  url_for("console_services.payment")))


@blueprint.post("/payment/confirm")
@console_page(RIGHT_SERVICES)
def payment_confirmed():
    """C4, step 2: confirmed, checked again and saved."""
    form = PaymentConfirmForm()
    if not form.validate_on_submit():
        failed("Le formulaire a expiré ou n'est pas valide. Recommencez la saisie.")
        return redirect(url_for("console_services.payment"))
    try:
        with runtime_of().uow() as uow:
            cases.save_payment(uow, g.actor, g.school.uai, tipi_client_number=form.tipi_client_number.data,
                               minimum_amount=form.minimum_amount.data, contact_email=form.contact_email.data)
    except AccountsError as error:
        failed(str(error))
        return redirect(url_for("console_services.payment"))
    return done("Le paramétrage du paiement en ligne des factures est enregistré.", "console_services.payment")
