"""« Scolarité services »: the families' pages (H1–H8).

Each view parses its form, makes one call to the accounts identity API and renders or redirects;
a refusal is shown with the accounts service's own French message, with its HTTP status. An
unreachable accounts service raises InternalServiceError, turned into the 503 page by the app.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ts_portal.adapters.identity_client import IdentityError, Throttled
from ts_portal.web import family_session
from ts_portal.web.family_session import family_required, identity
from ts_portal.web.forms import (
    ChangeEmailForm, ChangePasswordForm, CorrectEmailForm, FirstLoginForm, ForgotLoginForm, ForgotPasswordForm,
    LoginForm, MergeAccountForm, MergeLetterForm, ResendConfirmationForm, ResetPasswordForm, TokenForm, error_list,
)
pages = Blueprint("portal", __name__, template_folder="templates")

# H11: in a simulation, the only requests that may change something are these (they change only
# the portal's session: leave the simulation, start another one).
SIMULATION_ALLOWED = {"portal.sign_out", "portal.open_simulation"}
INACTIVE_IN_SIMULATION = "Ce lien n'est pas actif dans la simulation : aucune modification n'est effectuée."


@pages.before_request
def _read_only_in_simulation():
    """Every state-changing request of a simulation is refused here, on the server, whatever the
    page shows."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not family_session.is_simulation():
        return None
    if request.endpoint in SIMULATION_ALLOWED:
        return None
    return render_template("portal/simulation_refused.html", message=INACTIVE_IN_SIMULATION), 403

INCOMPLETE_LINK = ("Ce lien est incomplet. Copiez dans votre navigateur l'adresse complète reçue par courriel, "
                   "ou faites une nouvelle demande.")


def _refused(template: str, error: IdentityError, **context):
    """Render the page again with the accounts service's message and status."""
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) and error.retry_after else {}
    return render_template(template, error=error.message, **context), error.status, headers


def _invalid(template: str, **context):
    return render_template(template, **context), 400


def _client_address() -> str | None:
    return request.remote_addr  # the family's address: the apps run behind ProxyFix in production


# --- H1: sign-in ----------------------------------------------------------------------------------

@pages.get("/")
def login_page():
    if family_session.current() is not None:
        return redirect(url_for(".home"))
    return render_template("portal/login.html", form=LoginForm())


@pages.post("/")
def sign_in():
    form = LoginForm()
    if not form.validate_on_submit():
        return _invalid("portal/login.html", form=form)
    try:
        profile = identity().authenticate(login=form.login.data.strip(), password=form.password.data,
                                          client_address=_client_address())
    except IdentityError as error:
        return _refused("portal/login.html", error, form=form)
    if profile.first_login_required:
        family_session.start_first_login(profile)
        return redirect(url_for(".first_login"))
    if profile.pending_confirmation:
        family_session.start_pending(profile)
        return redirect(url_for(".pending"))
    family_session.start(profile)
    return redirect(url_for(".home"))


@pages.post("/deconnexion")
def sign_out():
    family_session.end()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for(".login_page"))


# --- H2: first login ------------------------------------------------------------------------------

def _first_login_page(form, state, *, error=None, status=200):
    return render_template("portal/first_login.html", form=form, login=state["login"], state=state,
                           errors=error_list(form), error=error), status


@pages.route("/premiere-connexion", methods=["GET", "POST"])
def first_login():
    state = family_session.first_login_state()
    if state is None:
        flash("Connectez-vous d'abord avec l'identifiant et le mot de passe provisoire de votre courrier.", "info")
        return redirect(url_for(".login_page"))
    form = FirstLoginForm.for_account(state)
    if request.method == "GET":
        return _first_login_page(form, state)
    if not form.validate_on_submit():
        return _first_login_page(form, state, status=400)
    try:
        profile = identity().first_login(
            login=state["login"], ticket=state.get("ticket"),
            temporary_password=form.temporary_password.data if form.has("temporary_password") else None,
            new_password=form.new_password.data, new_password_again=form.new_password_again.data,
            birth_date=form.birth_date.data,
            email=(form.email.data or "").strip() if form.has("email") else None,
            email_again=(form.email_again.data or "").strip() if form.has("email_again") else None,
            client_address=_client_address())
    except IdentityError as error:
        # Each field's message under its field and in the summary; what belongs to no field on top.
        unplaced = []
        for name, message in error.fields.items():
            field = form.field_of(name)
            if field is None:
                unplaced.append(message)
            else:
                field.errors = [*field.errors, message]
        message = " ".join(unplaced) if error.fields else error.message
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) and error.retry_after else {}
        page, _ = _first_login_page(form, state, error=message or None)
        return page, error.status, headers
    if profile.pending_confirmation:
        family_session.start_pending(profile)
        return redirect(url_for(".pending"))
    family_session.start(profile)
    flash("Votre compte est activé : vous pouvez utiliser les services en ligne de l'établissement.", "success")
    return redirect(url_for(".home"))


# --- H3: pending confirmation ---------------------------------------------------------------------

def _pending_profile():
    """The pending account, or None (the session is then over: go back to the sign-in page)."""
    account_id = family_session.pending_account_id()
    if account_id is None:
        return None
    try:
        profile = identity().profile(account_id=account_id)
    except IdentityError:
        family_session.end()
        return None
    if not profile.pending_confirmation:
        family_session.end()
        flash("Votre adresse électronique est confirmée : connectez-vous avec votre identifiant et votre "
              "nouveau mot de passe.", "success")
        return None
    return profile


def _pending_page(profile, *, resend_form=None, correct_form=None):
    return render_template("portal/pending.html", profile=profile,
                           resend_form=resend_form or ResendConfirmationForm(prefix="renvoi"),
                           correct_form=correct_form or CorrectEmailForm(prefix="correction"))


@pages.get("/compte/en-attente")
def pending():
    profile = _pending_profile()
    if profile is None:
        return redirect(url_for(".login_page"))
    return _pending_page(profile)


@pages.post("/compte/en-attente/renvoyer")
def resend_confirmation():
    profile = _pending_profile()
    if profile is None:
        return redirect(url_for(".login_page"))
    form = ResendConfirmationForm(prefix="renvoi")
    if not form.validate_on_submit():
        return _pending_page(profile, resend_form=form), 400
    try:
        sent_to = identity().resend_confirmation(account_id=profile.account_id)
    except IdentityError as error:
        return _refused("portal/pending.html", error, profile=profile, resend_form=form,
                        correct_form=CorrectEmailForm(prefix="correction"))
    flash(f"Un nouveau courriel de confirmation a été envoyé à {sent_to}.", "success")
    return redirect(url_for(".pending"))


@pages.post("/compte/en-attente/corriger")
def correct_email():
    profile = _pending_profile()
    if profile is None:
        return redirect(url_for(".login_page"))
    form = CorrectEmailForm(prefix="correction")
    if not form.validate_on_submit():
        return _pending_page(profile, correct_form=form), 400
    try:
        sent_to = identity().resend_confirmation(account_id=profile.account_id, email=form.email.data.strip(),
                                                 email_again=form.email_again.data.strip())
    except IdentityError as error:
        return _refused("portal/pending.html", error, profile=profile,
                        resend_form=ResendConfirmationForm(prefix="renvoi"), correct_form=form)
    flash(f"Votre adresse a été corrigée et un nouveau courriel de confirmation a été envoyé à {sent_to}.", "success")
    return redirect(url_for(".pending"))


# --- the emailed confirmation link ----------------------------------------------------------------
# The link only opens a page; the token is consumed by the button's POST (with its CSRF token),
# so a mail scanner or a link preview that fetches the URL does not use it up.

@pages.get("/compte/confirmation")
def confirm_email_page():
    form = TokenForm(token=request.args.get("jeton", ""))
    if not form.token.data:
        return render_template("portal/confirm_email.html", form=None, error=INCOMPLETE_LINK), 400
    return render_template("portal/confirm_email.html", form=form)


@pages.post("/compte/confirmation")
def confirm_email():
    form = TokenForm()
    if not form.validate_on_submit():
        return render_template("portal/confirm_email.html", form=None, error=INCOMPLETE_LINK), 400
    try:
        profile = identity().confirm_email(token=form.token.data)
    except IdentityError as error:
        return _refused("portal/confirm_email.html", error, form=None)
    if family_session.stage() == "pending":
        family_session.end()  # the pending screen is over: sign in normally
    return render_template("portal/confirmed.html", profile=profile,
                           signed_in=family_session.current() is not None)


# --- H4, H5: recovery -----------------------------------------------------------------------------

# Whatever the answer, the page answers 200: a script cannot tell from the status whether a login
# or an address exists (the words follow H4/H5, for the family).
UNKNOWN_EMAIL = ("Cette adresse électronique ne correspond à aucun compte dont l'adresse est confirmée. "
                 "Contactez votre établissement.")
UNKNOWN_LOGIN = "Cet identifiant est inconnu. Vérifiez-le ou utilisez « Identifiant oublié »."
UNCONFIRMED = ("Vous devez d'abord confirmer votre adresse électronique (lien reçu par courriel), "
               "ou contacter votre établissement.")
NOT_ACTIVATED = ("Ce compte n'a pas encore été activé : connectez-vous avec l'identifiant et le mot de passe "
                 "provisoire du courrier remis par l'établissement. Si vous ne l'avez plus, demandez-en un "
                 "nouveau à l'établissement.")
RECOVERY_REFUSALS = {"unconfirmed": UNCONFIRMED, "not_activated": NOT_ACTIVATED, "unknown": UNKNOWN_LOGIN}


@pages.route("/identifiant-oublie", methods=["GET", "POST"])
def forgot_login():
    form = ForgotLoginForm()
    if request.method == "GET":
        return render_template("portal/forgot_login.html", form=form)
    if not form.validate_on_submit():
        return _invalid("portal/forgot_login.html", form=form)
    try:
        outcome = identity().forgot_login(email=form.email.data.strip(), client_address=_client_address())
    except IdentityError as error:
        return _refused("portal/forgot_login.html", error, form=form)
    if outcome != "sent":
        return render_template("portal/forgot_login.html", form=form, error=UNKNOWN_EMAIL)
    return render_template("portal/forgot_login.html", form=None, sent_to=form.email.data.strip())


@pages.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "GET":
        return render_template("portal/forgot_password.html", form=form)
    if not form.validate_on_submit():
        return _invalid("portal/forgot_password.html", form=form)
    try:
        outcome, reference = identity().forgot_password(login=form.login.data.strip(), client_address=_client_address())
    except IdentityError as error:
        return _refused("portal/forgot_password.html", error, form=form)
    if outcome != "sent":
        return render_template("portal/forgot_password.html", form=form,
                               error=RECOVERY_REFUSALS.get(outcome, UNKNOWN_LOGIN))
    return render_template("portal/forgot_password.html", form=None, reference=reference)


@pages.route("/mot-de-passe/nouveau", methods=["GET", "POST"])
def reset_password():
    if request.method == "GET":
        form = ResetPasswordForm(token=request.args.get("jeton", ""))
        if not form.token.data:
            return render_template("portal/reset_password.html", form=None, error=INCOMPLETE_LINK), 400
        return render_template("portal/reset_password.html", form=form)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        if not form.token.data:
            return render_template("portal/reset_password.html", form=None, error=INCOMPLETE_LINK), 400
        return _invalid("portal/reset_password.html", form=form)
    try:
        identity().reset_password(token=form.token.data, login=form.login.data.strip(),
                                  new_password=form.new_password.data,
                                  new_password_again=form.new_password_again.data)
    except IdentityError as error:
        # A typo (400) keeps the link usable: the form stays, with the token in its hidden field.
        return _refused("portal/reset_password.html", error, form=form if error.status == 400 else None)
    family_session.end()
    flash("Votre mot de passe a été modifié. Connectez-vous avec votre nouveau mot de passe.", "success")
    return redirect(url_for(".login_page"))


# --- H6: my account -------------------------------------------------------------------------------

def _account_page(*, password_form=None, email_form=None, error=None, status=200):
    return render_template("portal/account.html", profile=g.profile, error=error,
                           password_form=password_form or ChangePasswordForm(prefix="mdp"),
                           email_form=email_form or ChangeEmailForm(prefix="courriel")), status


@pages.get("/mon-compte")
@family_required
def my_account():
    return _account_page()


@pages.post("/mon-compte/mot-de-passe")
@family_required
def change_password():
    form = ChangePasswordForm(prefix="mdp")
    if not form.validate_on_submit():
        return _account_page(password_form=form, status=400)
    try:
        profile = identity().change_password(account_id=g.profile.account_id,
                                             current_password=form.current_password.data,
                                             new_password=form.new_password.data,
                                             new_password_again=form.new_password_again.data)
    except IdentityError as error:
        return _account_page(password_form=form, error=error.message, status=error.status)
    family_session.credentials_changed(profile)
    flash("Votre mot de passe a été modifié.", "success")
    return redirect(url_for(".my_account"))


@pages.post("/mon-compte/adresse")
@family_required
def change_email():
    form = ChangeEmailForm(prefix="courriel")
    if not form.validate_on_submit():
        return _account_page(email_form=form, status=400)
    try:
        sent_to = identity().change_email(account_id=g.profile.account_id, password=form.password.data,
                                          email=form.email.data.strip(), email_again=form.email_again.data.strip())
    except IdentityError as error:
        return _account_page(email_form=form, error=error.message, status=error.status)
    flash(f"Un courriel contenant un lien de confirmation a été envoyé à {sent_to}. La nouvelle adresse sera "
          "utilisée dès que vous aurez cliqué sur ce lien ; d'ici là, l'adresse actuelle reste valable.", "success")
    return redirect(url_for(".my_account"))


# --- H8: merge ------------------------------------------------------------------------------------

def _merge_page(*, letter_form=None, account_form=None, error=None, status=200):
    return render_template("portal/merge.html", profile=g.profile, error=error,
                           letter_form=letter_form or MergeLetterForm(prefix="courrier"),
                           account_form=account_form or MergeAccountForm(prefix="compte")), status


def _merge_allowed():
    if not g.profile.can_merge:
        abort(403)


@pages.get("/mon-compte/regroupement")
@family_required
def merge():
    _merge_allowed()
    return _merge_page()


@pages.post("/mon-compte/regroupement/courrier")
@family_required
def merge_letter():
    _merge_allowed()
    form = MergeLetterForm(prefix="courrier")
    if not form.validate_on_submit():
        return _merge_page(letter_form=form, status=400)
    return _merge(form.other_login.data, form.other_password.data, form.birth_date.data, letter_form=form)


@pages.post("/mon-compte/regroupement/compte")
@family_required
def merge_account():
    _merge_allowed()
    form = MergeAccountForm(prefix="compte")
    if not form.validate_on_submit():
        return _merge_page(account_form=form, status=400)
    return _merge(form.other_login.data, form.other_password.data, None, account_form=form)


def _merge(other_login, other_password, birth_date, **forms):
    try:
        profile = identity().merge(account_id=g.profile.account_id, other_login=other_login.strip(),
                                   other_password=other_password, birth_date=birth_date,
                                   client_address=_client_address())
    except IdentityError as error:
        return _merge_page(error=error.message, status=error.status, **forms)
    family_session.refresh_display_name(profile.display_name)
    return render_template("portal/merged.html", profile=profile)
