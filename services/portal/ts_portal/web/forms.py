"""The portal's forms (Flask-WTF: each carries its CSRF token). They only check what a family
can fix on the spot (a missing field, a date typed the wrong way); the accounts service decides
the rest and its French message is shown as is."""
from __future__ import annotations

from flask_wtf import FlaskForm
from ts_shared.web.forms import FrenchDateField, at_most, required
from wtforms import EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

PASSWORD_RULES = "8 à 14 caractères, chiffres ET lettres obligatoires."
_TEXT = 254  # what the identity API accepts


def _login(label: str = "Identifiant"):
    return StringField(label, validators=[required("l'identifiant"), at_most(_TEXT)])


def _password(label: str, what: str = "le mot de passe", description: str = ""):
    return PasswordField(label, validators=[required(what), at_most(_TEXT)], description=description)


def _email(label: str, mandatory: bool = True, description: str = ""):
    # Not Optional(): it would stop the chain before FirstLoginForm's own check of the address.
    validators = [required("l'adresse électronique")] if mandatory else []
    return EmailField(label, validators=validators + [at_most(_TEXT)], description=description)


class LoginForm(FlaskForm):
    login = _login("Votre identifiant")
    password = _password("Votre mot de passe")


class FirstLoginForm(FlaskForm):
    """H2. The address is mandatory for a guardian whose account is not yet used, optional for a
    student; build it with `for_account`."""

    temporary_password = _password("Mot de passe provisoire", "le mot de passe provisoire",
                                   "Celui du courrier de notification (8 lettres majuscules et chiffres).")
    new_password = _password("Nouveau mot de passe", "le nouveau mot de passe", PASSWORD_RULES)
    new_password_again = _password("Confirmation du nouveau mot de passe", "de nouveau le nouveau mot de passe")
    birth_date = FrenchDateField("Date de naissance de votre enfant",
                                 validators=[required("la date de naissance")],
                                 description="Par exemple 18/03/2012 ; vous pouvez aussi la taper sans "
                                             "séparateur : 18032012.")
    email = _email("Votre adresse électronique", mandatory=False)
    email_again = _email("Confirmation de votre adresse électronique", mandatory=False)
    email_required = True

    @classmethod
    def for_account(cls, state: dict) -> FirstLoginForm:
        """The form for the first-login session's `state` (family_session.start_first_login): no
        temporary password when the sign-in checked it, the child named, no address asked when
        the school reset a used account whose address is confirmed."""
        form = cls()
        form.email_required = state["email_required"]
        if state.get("ticket"):
            del form.temporary_password
        if state["kind"] == "student":
            form.birth_date.label.text = "Votre date de naissance"
        elif state.get("child_names") and len(state["child_names"]) == 1:
            form.birth_date.label.text = f"Date de naissance de {state['child_names'][0]}"
        elif state.get("child_names"):
            form.birth_date.label.text = "Date de naissance de l'un de vos enfants"
        if state.get("confirmed_email"):
            del form.email
            del form.email_again
        elif form.email_required:
            form.email.label.text += " (obligatoire)"
            form.email.description = ("Indispensable : vous y recevrez un courriel avec un lien sur lequel vous "
                                      "devez cliquer pour accéder à vos services en ligne. Elle servira aussi à "
                                      "retrouver votre identifiant ou votre mot de passe en cas d'oubli.")
        else:
            form.email.label.text += " (facultative)"
            form.email.description = ("Facultative, mais indispensable pour retrouver seul votre identifiant ou "
                                      "votre mot de passe en cas d'oubli.")
        return form

    def has(self, name: str) -> bool:
        return name in self._fields

    def validate_email(self, field):
        if self.email_required and not (field.data or "").strip():
            raise ValidationError("L'adresse électronique est obligatoire.")

    def validate_email_again(self, field):
        if (self.email.data or "").strip() and not (field.data or "").strip():
            raise ValidationError("Saisissez de nouveau l'adresse électronique.")

    def field_of(self, api_field: str):
        """The form's field the accounts service names in an error (`fields`), or None."""
        return self._fields.get(api_field)


class ResendConfirmationForm(FlaskForm):
    """H3: send the link again to the same address (only the CSRF token)."""


class CorrectEmailForm(FlaskForm):
    """H3: send the link to a corrected address."""

    email = _email("Nouvelle adresse électronique")
    email_again = _email("Confirmation de la nouvelle adresse électronique")


class TokenForm(FlaskForm):
    """The link's token, carried in a hidden field from the emailed link to the POST."""

    token = HiddenField(validators=[InputRequired(), at_most(_TEXT)])


class ForgotLoginForm(FlaskForm):
    email = _email("Votre adresse électronique")


class ForgotPasswordForm(FlaskForm):
    login = _login("Votre identifiant")


class ResetPasswordForm(TokenForm):
    login = _login("Votre identifiant")
    new_password = _password("Votre nouveau mot de passe", "le nouveau mot de passe", PASSWORD_RULES)
    new_password_again = _password("Confirmation du nouveau mot de passe", "de nouveau le nouveau mot de passe")


class ChangePasswordForm(FlaskForm):
    current_password = _password("Mot de passe actuel", "le mot de passe actuel")
    new_password = _password("Nouveau mot de passe", "le nouveau mot de passe", PASSWORD_RULES)
    new_password_again = _password("Confirmation du nouveau mot de passe", "de nouveau le nouveau mot de passe")


class ChangeEmailForm(FlaskForm):
    email = _email("Nouvelle adresse électronique")
    email_again = _email("Confirmation de la nouvelle adresse électronique")
    password = _password("Votre mot de passe", description="Pour vérifier que c'est bien vous.")


class MergeLetterForm(FlaskForm):
    """H8, first way: the other notification letter."""

    other_login = _login("Identifiant figurant sur l'autre courrier")
    other_password = _password("Mot de passe provisoire de ce courrier", "le mot de passe provisoire")
    birth_date = FrenchDateField("Date de naissance de l'enfant de ce courrier",
                                 validators=[required("la date de naissance")], description="Au format JJ/MM/AAAA.")


class MergeAccountForm(FlaskForm):
    """H8, second way: another account already activated (e.g. the other parent's, for a joint account)."""

    other_login = _login("Identifiant de l'autre compte")
    other_password = _password("Mot de passe de l'autre compte")


class ContactForm(FlaskForm):
    """H10: a message to the school."""

    subject = StringField("Objet", validators=[required("l'objet"), at_most(200)])
    message = TextAreaField("Votre message", validators=[required("le message"), at_most(5000)],
                            description="5 000 caractères au plus.", render_kw={"rows": 8})


class SimulationForm(TokenForm):
    """H11: the console's one-time link, carried from the warning page to its POST."""


def error_list(form) -> list[tuple[str, str, str]]:
    """(field id, label, message) of every error of the form, in the form's order: the summary at
    the top of the page (ts_forms.error_summary)."""
    return [(field.id, field.label.text, error) for field in form
            if field.type not in ("CSRFTokenField", "HiddenField") for error in field.errors]
