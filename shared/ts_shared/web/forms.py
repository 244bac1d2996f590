"""Form pieces with French messages, for every form of the console and the portal (WTForms' own
messages are English)."""
from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, ValidationError

from ts_shared.emails import is_valid_email

# 18/03/2012, 18-03-2012, 18.03.2012, 18 03 2012, and 18032012 (a phone's numeric keypad has no « / »).
_DATE = re.compile(r"(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})|(\d{2})(\d{2})(\d{4})")


def at_most(characters: int) -> Length:
    return Length(max=characters, message=f"{characters} caractères au plus.")


def required(what: str) -> InputRequired:
    return InputRequired(f"Saisissez {what}.")


class FrenchDateField(StringField):
    """A date typed JJ/MM/AAAA (as on the letters); `data` is a `date`, or None. `example` is the
    date the error message shows."""

    def __init__(self, label=None, validators=None, *, example: str = "12/03/2013", **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "placeholder": "JJ/MM/AAAA", "maxlength": 10})
        super().__init__(label, validators, **kwargs)
        self.example = example
        self.text = ""

    def process_formdata(self, valuelist):
        self.text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.text:
            return
        match = _DATE.fullmatch(self.text)
        try:
            if match is None:
                raise ValueError
            day, month, year = (int(part) for part in match.groups() if part is not None)
            self.data = date(year, month, day)
        except ValueError:
            raise ValueError(f"Saisissez la date au format JJ/MM/AAAA, par exemple {self.example}.") from None

    def _value(self):
        if self.text:
            return self.text
        return self.data.strftime("%d/%m/%Y") if isinstance(self.data, date) else ""


class ConfirmForm(FlaskForm):
    """A button that changes something (confirm, delete, revoke…): only the CSRF token."""


def valid_email(message: str = "Saisissez une adresse électronique valide, par exemple intendance@college.fr."):
    """An email field's check: the project's one rule (ts_shared.emails), never WTForms' `Email()`
    (it needs the email_validator package, and its message is English). An empty field passes:
    pair it with `required` or `Optional`."""

    def check(form, field):
        if field.data and not is_valid_email(field.data):
            raise ValidationError(message)

    return check
