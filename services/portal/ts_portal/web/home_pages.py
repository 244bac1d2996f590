"""« Scolarité services » once signed in: the home page (H7), the service pages its tiles lead to
(H9), the contact page (H10) and the useful links (D5). Each view reads the account's profile
(family_required) and the school's settings from the portal's read model."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from ts_portal.service_layer.contact import ContactUnavailable, TooManyMessages, send_contact_message
from ts_portal.service_layer.home import UnknownChild, UnknownService, home_page, open_service, select_child
from ts_portal.service_layer.school_settings import school_settings
from ts_portal.service_layer.service_access import record_service_access
from ts_portal.web import family_session
from ts_portal.web.family_session import family_required
from ts_portal.web.forms import ContactForm, error_list
from ts_portal.web.pages import pages
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of

TOO_MANY = ("Vous avez déjà envoyé plusieurs messages à l'établissement dans l'heure qui vient de s'écouler. "
            "Réessayez plus tard, ou téléphonez à l'établissement.")


def _child_or_404(key: str | None):
    try:
        child = select_child(g.profile.children, key)
    except UnknownChild:
        abort(404)
    if child is None:
        abort(404)
    return child


# --- H7: home -------------------------------------------------------------------------------------

@pages.get("/accueil")
@family_required
def home():
    try:
        with runtime_of().uow() as uow:
            page = home_page(uow.session, g.profile, request.args.get("enfant"))
    except UnknownChild:
        abort(404)
    return render_template("portal/home.html", profile=g.profile, family=g.family, page=page)


# --- H9: the page a tile opens --------------------------------------------------------------------

@pages.get("/services/<code>")
@family_required
def service(code: str):
    """The service's page for the child; opening it is counted for the statistics (G3), except in
    a simulation, which changes nothing."""
    with runtime_of().uow() as uow:
        try:
            child, described, settings = open_service(uow.session, g.profile, request.args.get("enfant"), code)
        except (UnknownChild, UnknownService):
            abort(404)
        ent_url = settings.ent_url
        if not family_session.is_simulation():
            record_service_access(uow, kind=g.profile.kind, child=child, service_code=code, now=utcnow())
    return render_template("portal/service.html", profile=g.profile, child=child, service=described, ent_url=ent_url,
                           several=len(g.profile.children) > 1)


# --- H10: contact ---------------------------------------------------------------------------------

def _contact_page(child, settings, form, *, status=200):
    return render_template("portal/contact.html", profile=g.profile, child=child, settings=settings, form=form,
                           errors=error_list(form), several=len(g.profile.children) > 1), status


@pages.get("/contact")
@family_required
def contact():
    child = _child_or_404(request.args.get("enfant"))
    with runtime_of().uow() as uow:
        settings = school_settings(uow.session, child.school_uai)
    return _contact_page(child, settings, ContactForm())


@pages.post("/contact")
@family_required
def send_contact():
    child = _child_or_404(request.args.get("enfant"))
    form = ContactForm()
    with runtime_of().uow() as uow:
        settings = school_settings(uow.session, child.school_uai)
        if not form.validate_on_submit():
            return _contact_page(child, settings, form, status=400)
        try:
            sent_to = send_contact_message(uow, g.profile, child, settings, subject=form.subject.data,
                                           body=form.message.data, now=utcnow())
        except ContactUnavailable:
            abort(404)
        except TooManyMessages:
            flash(TOO_MANY, "error")
            return _contact_page(child, settings, form, status=429)
    copy = " Une copie vous est envoyée par courriel." if g.profile.email and g.profile.email_confirmed else ""
    flash(f"Votre message a été envoyé à l'établissement ({sent_to}).{copy}", "success")
    return redirect(url_for(".contact", enfant=child.key))


# --- D5: useful links -----------------------------------------------------------------------------

@pages.get("/liens-utiles")
@family_required
def useful_links():
    child = _child_or_404(request.args.get("enfant"))
    with runtime_of().uow() as uow:
        settings = school_settings(uow.session, child.school_uai)
        links = list(settings.useful_links) if settings else []
        school_name = settings.name if settings else child.school_name
    return render_template("portal/useful_links.html", profile=g.profile, child=child, links=links,
                           school_name=school_name, several=len(g.profile.children) > 1)
