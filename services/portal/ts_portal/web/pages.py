"""« Scolarité services »: the families' pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

pages = Blueprint("portal", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    login = StringField("Identifiant", validators=[DataRequired("Saisissez votre identifiant."), Length(max=100)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."), Length(max=200)])


@pages.get("/")
def login_page():
    return render_template("portal/login.html", form=LoginForm())
