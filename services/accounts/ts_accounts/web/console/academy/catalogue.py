"""« Services de l'académie »: per academy, the services offered to its schools (C2), its own
services, the ENT addresses its schools can choose (D2) and its TIPI reference list (C4). Each
view calls one use case of `service_layer.academy`, which records the audit entry, announces the
settings of the schools concerned and commits."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from ts_accounts.service_layer import academy as cases
from ts_accounts.service_layer.errors import AccountsError, NotFound
from ts_accounts.service_layer.schools import SIECLE_MODULES
from ts_accounts.web.console.academy import SERVICES, menu
from ts_accounts.web.console.common import EXPIRED, TEMPLATES, console_page, failed, show_errors
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm, at_most, required

blueprint = Blueprint("academy_catalogue", __name__, url_prefix="/admin/academy/services", template_folder=TEMPLATES)


class AcademicServiceForm(FlaskForm):
    service_label = StringField("Libellé du service académique", description="Par exemple « Service académique 1 ».",
                                validators=[required("le libellé"), at_most(200)])
    service_url = StringField("Adresse du service", description="L'adresse complète, par exemple "
                                                                "https://services.ac-nancy-metz.fr/.",
                              validators=[required("l'adresse du service"), at_most(500)],
                              render_kw={"type": "url"})


SERVICE_FIELDS = {"label": "service_label", "url": "service_url"}


class EntLinkForm(FlaskForm):
    ent_label = StringField("Nom de l'ENT", validators=[required("le nom de l'ENT"), at_most(200)])
    ent_url = StringField("Adresse de l'ENT", validators=[required("l'adresse de l'ENT"), at_most(500)],
                          render_kw={"type": "url"})


ENT_FIELDS = {"label": "ent_label", "url": "ent_url"}


class TipiClientForm(FlaskForm):
    tipi_number = StringField("Numéro client TIPI", validators=[required("le numéro client TIPI"), at_most(40)])
    tipi_holder = StringField("Titulaire", description="Par exemple « Agence comptable du lycée Henri Poincaré ».",
                              validators=[required("le titulaire"), at_most(200)])


TIPI_FIELDS = {"number": "tipi_number", "holder": "tipi_holder"}

FLAG_CHANGES = {"enable": {"enabled": True}, "disable": {"enabled": False}, "mandatory": {"mandatory": True},
                "optional": {"mandatory": False}}


def _catalogue_page(academy_code: str | None, *, service_form=None, ent_form=None, tipi_form=None, status=200):
    with runtime_of().uow() as uow:
        academies = cases.academies(uow, g.actor)
        if not academies:
            return render_template("accounts/academy/services.html", academies=[], catalogue=None,
                                   breadcrumb=menu(SERVICES)), status
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
        nationally_mandatory=cases.NATIONALLY_MANDATORY, breadcrumb=menu(SERVICES)), status


def _back(academy_code: str):
    return redirect(url_for("academy_catalogue.services", academy=academy_code))


def _saved(message: str, academy_code: str):
    flash(message, "success")
    return _back(academy_code)


@blueprint.get("")
@console_page(academy=True)
def services():
    """Per academy: the services offered to its schools, its ENT addresses, its TIPI clients."""
    return _catalogue_page(request.args.get("academy"))


@blueprint.post("/<academy_code>/<code>/flags")
@console_page(academy=True)
def service_flags(academy_code: str, code: str):
    change = FLAG_CHANGES.get(request.form.get("change", ""))
    if not ConfirmForm().validate_on_submit() or change is None:
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            service = cases.set_service_flags(uow, g.actor, academy_code, code, **change)
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    label = service.label
    messages = {
        "enable": f"Le téléservice {label} est proposé aux établissements de l'académie.",
        "disable": f"Le téléservice {label} n'est plus proposé aux établissements de l'académie.",
        "mandatory": f"Le téléservice {label} est obligatoire dans l'académie : il est ouvert dans tous ses "
                     "établissements.",
        "optional": f"Le téléservice {label} est facultatif : chaque établissement choisit de l'ouvrir.",
    }
    return _saved(messages[request.form["change"]], academy_code)


@blueprint.post("/<academy_code>/academic")
@console_page(academy=True)
def add_academic_service(academy_code: str):
    form = AcademicServiceForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, service_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            service = cases.add_academic_service(uow, g.actor, academy_code, label=form.service_label.data,
                                                 url=form.service_url.data)
    except AccountsError as error:
        show_errors(form, error, SERVICE_FIELDS)
        return _catalogue_page(academy_code, service_form=form, status=400)
    return _saved(f"Le téléservice académique « {service.label} » est ajouté ; chaque établissement peut maintenant "
                  "l'ouvrir.", academy_code)


def _academic_service(academy_code: str, code: str):
    """The catalogue and one of its academic services; or, when either is gone, the page to go
    back to (its message flashed)."""
    with runtime_of().uow() as uow:
        try:
            catalogue = cases.catalogue(uow, g.actor, academy_code)
        except NotFound as error:
            failed(str(error))
            return None, None, redirect(url_for("academy_catalogue.services"))
    service = next((s for s in catalogue.academic if s.code == code), None)
    if service is None:
        failed("Ce téléservice académique n'existe pas.")
        return catalogue, None, _back(catalogue.academy.code)
    return catalogue, service, None


@blueprint.route("/<academy_code>/academic/<code>", methods=["GET", "POST"])
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
        except AccountsError as error:
            show_errors(form, error, SERVICE_FIELDS)
            status = 400
        else:
            return _saved(f"Le téléservice académique « {form.service_label.data.strip()} » est enregistré.",
                          catalogue.academy.code)
    elif request.method == "POST":
        status = 400
    return render_template("accounts/academy/service_edit.html", form=form, service=service,
                           academy=catalogue.academy,
                           breadcrumb=menu(SERVICES, (service.label, request.path))), status


@blueprint.route("/<academy_code>/academic/<code>/delete", methods=["GET", "POST"])
@console_page(academy=True)
def delete_academic_service(academy_code: str, code: str):
    """A confirmation first: the schools that opened the service lose it."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                service = cases.delete_academic_service(uow, g.actor, academy_code, code)
        except AccountsError as error:
            failed(str(error))
            return _back(academy_code)
        return _saved(f"Le téléservice académique « {service.label} » est supprimé.", academy_code)
    catalogue, service, elsewhere = _academic_service(academy_code, code)
    if elsewhere:
        return elsewhere
    if request.method == "POST":
        failed(EXPIRED)
    return render_template("accounts/academy/service_delete.html", form=form, service=service,
                           academy=catalogue.academy,
                           breadcrumb=menu(SERVICES, (service.label, request.path))), \
        400 if request.method == "POST" else 200


@blueprint.post("/<academy_code>/ent")
@console_page(academy=True)
def add_ent_link(academy_code: str):
    form = EntLinkForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, ent_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            link = cases.add_ent_link(uow, g.actor, academy_code, label=form.ent_label.data, url=form.ent_url.data)
    except AccountsError as error:
        show_errors(form, error, ENT_FIELDS)
        return _catalogue_page(academy_code, ent_form=form, status=400)
    return _saved(f"L'ENT « {link.label} » est ajouté à la liste de l'académie.", academy_code)


@blueprint.post("/<academy_code>/ent/<int:link_id>/delete")
@console_page(academy=True)
def remove_ent_link(academy_code: str, link_id: int):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            link = cases.remove_ent_link(uow, g.actor, academy_code, link_id)
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    return _saved(f"L'ENT « {link.label} » est retiré de la liste de l'académie.", academy_code)


@blueprint.post("/<academy_code>/tipi")
@console_page(academy=True)
def add_tipi_client(academy_code: str):
    form = TipiClientForm()
    if not form.validate_on_submit():
        return _catalogue_page(academy_code, tipi_form=form, status=400)
    try:
        with runtime_of().uow() as uow:
            client = cases.add_tipi_client(uow, g.actor, academy_code, number=form.tipi_number.data,
                                           holder=form.tipi_holder.data)
    except AccountsError as error:
        show_errors(form, error, TIPI_FIELDS)
        return _catalogue_page(academy_code, tipi_form=form, status=400)
    return _saved(f"Le numéro client TIPI {client.number} est ajouté au référentiel de l'académie.", academy_code)


@blueprint.post("/<academy_code>/tipi/<number>/delete")
@console_page(academy=True)
def remove_tipi_client(academy_code: str, number: str):
    if not ConfirmForm().validate_on_submit():
        failed(EXPIRED)
        return _back(academy_code)
    try:
        with runtime_of().uow() as uow:
            cases.remove_tipi_client(uow, g.actor, academy_code, number)
    except AccountsError as error:
        failed(str(error))
        return _back(academy_code)
    return _saved(f"Le numéro client TIPI {number} est retiré du référentiel de l'académie.", academy_code)
