"""The « Paramétrage » menu of the console: welcome message (D1), ENT and notification letter (D2),
contact link (D4) and useful links (D5). Each view loads the form, calls one use case of
`service_layer.settings` (which announces the new settings to the portal and records the action
in the audit log, in the same transaction), then redirects; a refused form comes back with its
errors and nothing saved. The pages work without JavaScript; the scripts of `static/` only add the
editor, the live counter and preview, and the show/hide of the ENT part."""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField, URLField
from wtforms.fields.choices import SelectChoice

from ts_accounts.adapters.orm import School
from ts_accounts.service_layer import settings as cases
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_accounts.web.console.common import console_page, done, show_errors
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm
from ts_shared.web.staff_session import RIGHT_SETTINGS

blueprint = Blueprint("settings", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/settings-static")

MENU = "Paramétrage"
NOTHING_CHANGED = "Aucune modification : le paramétrage est inchangé."


def _breadcrumb(*trail: tuple[str, str]) -> list[tuple[str, str]]:
    return [(MENU, url_for("settings.welcome")), *trail]


def _school(uow) -> School:
    return uow.session.get(School, g.school.uai)


# --- D1 welcome message ---------------------------------------------------------------------------

class WelcomeForm(FlaskForm):
    message = TextAreaField("Message d'accueil")


@blueprint.route("/settings/welcome", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def welcome():
    form = WelcomeForm()
    status = 200
    if form.validate_on_submit():
        raw = form.message.data or ""
        try:
            if request.form.get("action") == "preview":  # the page's preview button (without JavaScript)
                preview = cases.preview_welcome(raw)
                if preview.too_long:
                    form.message.errors = [cases.too_long_message(preview.length)]
                    status = 400
            else:
                with runtime_of().uow() as uow:
                    change = cases.set_welcome_message(uow, g.actor, g.school.uai, raw)
                if not change.changed:
                    return done(NOTHING_CHANGED, "settings.welcome")
                return done("Le message d'accueil est enregistré : les familles le voient dès maintenant dans "
                            "« Scolarité services ».", "settings.welcome")
        except InvalidInput as error:
            show_errors(form, error)
            preview, status = cases.preview_welcome(raw[:cases.WELCOME_MAX_INPUT]), 400
        form.message.data = preview.html  # the editor goes on from the sanitised text
    else:
        preview = cases.preview_welcome(g.school.welcome_message_html)
        form.message.data = preview.html
    return render_template("accounts/settings/welcome.html", form=form, preview=preview,
                           breadcrumb=_breadcrumb(("Message d'accueil", url_for("settings.welcome")))), status


@blueprint.post("/settings/welcome/preview")
@console_page(RIGHT_SETTINGS)
def welcome_preview():
    """What families would see of the message being typed: the sanitised HTML and its length
    (JSON; the CSRF token travels in the X-CSRFToken header). Nothing is saved."""
    try:
        preview = cases.preview_welcome(request.form.get("message", ""))
    except InvalidInput as error:
        return jsonify({"error": str(error), "status": 400}), 400
    return jsonify({"html": preview.html, "length": preview.length, "maximum": preview.maximum,
                    "too_long": preview.too_long})


# --- D2 ENT and notification letter ---------------------------------------------------------------

TYPED = "typed"


class EntForm(FlaskForm):
    letter_type = RadioField("Type de courrier", validate_choice=False,
                             choices=[SelectChoice(value, label) for value, label in cases.LETTER_TYPES.items()])
    ent_choice = RadioField("Adresse de l'ENT", validate_choice=False)
    ent_url = URLField("Adresse de l'ENT de l'établissement",
                       description="Adresse complète, commençant par https:// ou http://")


@blueprint.route("/settings/ent", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def ent():
    form = EntForm()
    with runtime_of().uow() as uow:
        school = _school(uow)
        academy_links = cases.academy_ent_links(uow, school.academy_code)
    form.ent_choice.choices = [SelectChoice(f"link-{link.id}", link.label) for link in academy_links] + [
        SelectChoice(TYPED, "Saisir l'adresse de l'ENT de l'établissement")]
    status = 200
    if form.validate_on_submit():
        choice = form.ent_choice.data or TYPED
        link_id = None
        if choice.startswith("link-"):
            link_id = int(choice[5:]) if choice[5:].isdigit() else 0
        try:
            with runtime_of().uow() as uow:
                change = cases.set_ent_and_letter(uow, g.actor, g.school.uai, letter_type=form.letter_type.data or "",
                                                  academy_link_id=link_id, typed_url=form.ent_url.data)
        except InvalidInput as error:
            show_errors(form, error)
            status = 400
        else:
            if not change.changed:
                return done(NOTHING_CHANGED, "settings.ent")
            return done("Le type de courrier et l'adresse de l'ENT sont enregistrés.", "settings.ent")
    elif request.method == "GET":
        form.letter_type.data = school.letter_type
        chosen = next((link for link in academy_links if school.ent_url and link.url == school.ent_url), None)
        form.ent_choice.data = f"link-{chosen.id}" if chosen else TYPED
        form.ent_url.data = "" if chosen else (school.ent_url or "")
    ent_choices = [{"value": f"link-{link.id}", "label": link.label, "url": link.url,
                    "preview": _safe_address(link.url)} for link in academy_links]
    ent_choices.append({"value": TYPED, "label": "Saisir l'adresse de l'ENT de l'établissement", "url": None,
                        "preview": None})
    return render_template("accounts/settings/ent.html", form=form, academy_links=academy_links,
                           ent_choices=ent_choices, typed_preview=_safe_address(form.ent_url.data),
                           ent_letter_types=cases.ENT_LETTER_TYPES, typed=TYPED,
                           breadcrumb=_breadcrumb(("ENT et courrier de notification", url_for("settings.ent")))), status


def _safe_address(url: str | None) -> str | None:
    """An address fit for an « Aperçu du lien » href (never javascript: and the like), or None."""
    try:
        return cases.check_web_address(url, missing="")
    except InvalidInput:
        return None


# --- D4 contact link ------------------------------------------------------------------------------

class ContactForm(FlaskForm):
    contact_active = RadioField(
        "Lien de contact",
        choices=[SelectChoice("active", "Actif"), SelectChoice("inactive", "Non actif")],
        validate_choice=False,
    )
    contact_email = SelectField("Adresse de messagerie de l'établissement", validate_choice=False)


@blueprint.route("/settings/contact", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def contact():
    form = ContactForm()
    with runtime_of().uow() as uow:
        school = _school(uow)
        emails = cases.school_emails(uow, school.uai)
    form.contact_email.choices = [SelectChoice("", "— Choisir une adresse —")] + [
        SelectChoice(str(email.id), f"{email.address} ({email.label})" if email.label else email.address)
        for email in emails]
    status = 200
    if form.validate_on_submit():
        email_id = form.contact_email.data
        try:
            with runtime_of().uow() as uow:
                change = cases.set_contact_link(uow, g.actor, g.school.uai,
                                                active=form.contact_active.data == "active",
                                                email_id=int(email_id) if (email_id or "").isdigit() else None)
        except InvalidInput as error:
            show_errors(form, error)
            status = 400
        else:
            if not change.changed:
                return done(NOTHING_CHANGED, "settings.contact")
            return done("Le lien de contact est enregistré.", "settings.contact")
    elif request.method == "GET":
        form.contact_active.data = "active" if school.contact_active else "inactive"
        current = next((email for email in emails if email.address == school.contact_email), None)
        form.contact_email.data = str(current.id) if current else ""
    return render_template("accounts/settings/contact.html", form=form, emails=emails,
                           no_email_message=cases.NO_SCHOOL_EMAIL,
                           breadcrumb=_breadcrumb(("Lien de contact établissement", url_for("settings.contact")))
                           ), status


# --- D5 useful links ------------------------------------------------------------------------------

class LinkForm(FlaskForm):
    label = StringField("Libellé", description="Le texte du lien, par exemple « Le site de l'établissement »")
    url = URLField("Url", description="Adresse complète, commençant par https:// ou http://")


def _links_breadcrumb(*trail):
    return _breadcrumb(("Liens utiles", url_for("settings.links")), *trail)


@blueprint.route("/settings/links", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def links():
    """The list in creation order (the portal's), and the form that adds a link at its end."""
    form = LinkForm()
    status = 200
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                link = cases.add_useful_link(uow, g.actor, g.school.uai, label=form.label.data, url=form.url.data)
        except InvalidInput as error:
            show_errors(form, error)
            status = 400
        else:
            return done(f"Le lien « {link.label} » est ajouté.", "settings.links")
    with runtime_of().uow() as uow:
        rows = cases.useful_links(uow, g.school.uai)
    return render_template("accounts/settings/links.html", form=form, links=rows,
                           breadcrumb=_links_breadcrumb()), status


def _link_or_404(uow, link_id: int):
    try:
        return cases.useful_link(uow, g.school.uai, link_id)
    except NotFound:
        abort(404)


@blueprint.route("/settings/links/<int:link_id>/edit", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def edit_link(link_id: int):
    with runtime_of().uow() as uow:
        link = _link_or_404(uow, link_id)
    form = LinkForm(obj=link) if request.method == "GET" else LinkForm()
    status = 200
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                change = cases.update_useful_link(uow, g.actor, g.school.uai, link_id, label=form.label.data,
                                                  url=form.url.data)
        except NotFound:
            abort(404)
        except InvalidInput as error:
            show_errors(form, error)
            status = 400
        else:
            if not change.changed:
                return done(NOTHING_CHANGED, "settings.links")
            return done(f"Le lien « {change.after['label']} » est modifié.", "settings.links")
    return render_template("accounts/settings/link_edit.html", form=form, link=link,
                           breadcrumb=_links_breadcrumb(("Modifier un lien", request.path))), status


@blueprint.route("/settings/links/<int:link_id>/delete", methods=["GET", "POST"])
@console_page(RIGHT_SETTINGS)
def delete_link(link_id: int):
    """A confirmation page (GET), then the deletion (POST)."""
    with runtime_of().uow() as uow:
        link = _link_or_404(uow, link_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                deleted = cases.delete_useful_link(uow, g.actor, g.school.uai, link_id)
        except NotFound:
            abort(404)
        return done(f"Le lien « {deleted.label} » est supprimé.", "settings.links")
    return render_template("accounts/settings/link_delete.html", form=form, link=link,
                           breadcrumb=_links_breadcrumb(("Supprimer un lien", request.path)))
