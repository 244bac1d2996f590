"""Small pieces of the portal pages: the JJ/MM/AAAA date field, the child selection of the home
page and the dates shown to families."""
from __future__ import annotations

from datetime import date, datetime, UTC

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from ts_portal.adapters.identity_client import Child
from ts_portal.service_layer.home import UnknownChild, select_child
from ts_portal.web.formatting import french_date, french_datetime
from ts_portal.web.forms import FirstLoginForm, MergeLetterForm


@pytest.fixture
def request_context():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):
        yield


def _first_login_form(**fields):
    data = {"temporary_password": "DCBRJDWH", "new_password": "Lilas2026", "new_password_again": "Lilas2026",
            "birth_date": "12/03/2013", "email": "helene@example.org", "email_again": "helene@example.org", **fields}
    form = FirstLoginForm(formdata=MultiDict(data))
    form.email_required = True
    return form


@pytest.mark.parametrize("typed", ["12/03/2013", "12/3/2013", "12-03-2013", "12.03.2013", " 12/03/2013 ", "12032013"])
def test_a_birth_date_typed_as_on_the_letter_is_read_as_a_date(request_context, typed):
    form = _first_login_form(birth_date=typed)
    assert form.validate(), form.errors
    assert form.birth_date.data == date(2013, 3, 12)


@pytest.mark.parametrize("typed", ["31/02/2013", "2013-03-12", "12/03/13", "douze mars", "1232013", "31022013"])
def test_an_impossible_or_badly_typed_birth_date_is_refused_with_the_expected_format(request_context, typed):
    form = _first_login_form(birth_date=typed)
    assert not form.validate()
    assert form.birth_date.errors == ["Saisissez la date au format JJ/MM/AAAA, par exemple 12/03/2013."]
    assert f'value="{typed.strip()}"' in form.birth_date()  # what was typed stays in the field


def test_a_missing_birth_date_asks_for_it(request_context):
    form = MergeLetterForm(formdata=MultiDict({"other_login": "helene.dupont1", "other_password": "2BUYJ9C8"}))
    assert not form.validate()
    assert form.birth_date.errors == ["Saisissez la date de naissance."]


def test_the_address_is_required_for_a_guardian_and_optional_for_a_student(request_context):
    guardian = _first_login_form(email="", email_again="")
    assert not guardian.validate() and guardian.email.errors == ["L'adresse électronique est obligatoire."]
    student = FirstLoginForm.for_account({"kind": "student", "email_required": False, "child_names": ["Léa DUPONT"]})
    student.process(MultiDict({"temporary_password": "DCBRJDWH", "new_password": "Latin2026",
                               "new_password_again": "Latin2026", "birth_date": "12/03/2013"}))
    assert student.validate(), student.errors
    assert "facultative" in student.email.label.text and student.birth_date.label.text == "Votre date de naissance"


def test_the_first_login_form_names_the_child_and_asks_only_what_is_still_unknown(request_context):
    state = {"kind": "guardian", "email_required": True, "child_names": ["Noé Lefèvre"]}
    asked = FirstLoginForm.for_account(state)
    assert asked.birth_date.label.text == "Date de naissance de Noé Lefèvre" and asked.has("temporary_password")
    # The sign-in already checked the temporary password: not asked twice.
    checked = FirstLoginForm.for_account({**state, "ticket": "t"})
    assert not checked.has("temporary_password") and checked.has("email")
    # A used account reset by the school keeps its confirmed address: not asked again.
    reset = FirstLoginForm.for_account({**state, "email_required": False, "ticket": "t",
                                        "confirmed_email": "helene@example.org"})
    assert not reset.has("email") and not reset.has("email_again")
    several = FirstLoginForm.for_account({**state, "child_names": ["Noé Lefèvre", "Inès Lefèvre"]})
    assert several.birth_date.label.text == "Date de naissance de l'un de vos enfants"


def _child(student_id: str, school_uai: str = "0541234X") -> Child:
    return Child(school_uai=school_uai, school_name="Collège Jean Moulin", student_id=student_id, first_name="Léa",
                 last_name="DUPONT", division="3A", birth_date=date(2013, 3, 12), legal_rank=1)


def test_without_a_choice_the_home_page_shows_the_first_child():
    children = (_child("1001"), _child("1004"))
    assert select_child(children, None) is children[0]
    assert select_child((), None) is None


def test_the_child_asked_for_must_be_one_of_the_accounts_children():
    children = (_child("1001"), _child("1004"), _child("1001", school_uai="0573321A"))
    assert select_child(children, "0541234X-1004") is children[1]
    assert select_child(children, "0573321A-1001") is children[2]  # same SIECLE id, another school
    for unknown in ("1004", "0541234X-1002", "0999999Z-1001"):
        with pytest.raises(UnknownChild):
            select_child(children, unknown)


@pytest.mark.parametrize("moment,shown", [
    (datetime(2015, 1, 7, 17, 5, tzinfo=UTC), "07/01/2015 à 18 h 05"),  # winter: UTC+1
    (datetime(2026, 9, 10, 8, 0, tzinfo=UTC), "10/09/2026 à 10 h 00"),  # summer: UTC+2
])
def test_the_last_connection_is_shown_in_paris_time(moment, shown):
    assert french_datetime(moment) == shown


def test_dates_are_shown_day_first():
    assert french_date(date(2013, 3, 12)) == "12/03/2013" and french_date(None) == ""
