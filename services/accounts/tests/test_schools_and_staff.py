"""Schools and staff users of the accounts service (domain rules and use cases)."""
from __future__ import annotations

import pytest

from support.settings import settings_for
from ts_accounts.domain.schools import InvalidUai, normalise_uai
from ts_accounts.service_layer.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound
from ts_accounts.service_layer.schools import add_school
from ts_accounts.service_layer.staff import create_staff, sign_in_staff
from ts_accounts.spec import SERVICE
from ts_shared.service import ServiceRuntime


@pytest.fixture
def accounts(tmp_path):
    runtime = ServiceRuntime(SERVICE, settings_for(tmp_path))
    runtime.migrate()
    yield runtime
    runtime.dispose()


@pytest.mark.parametrize("value,expected", [("0541234x", "0541234X"), (" 0573321A ", "0573321A")])
def test_a_uai_is_trimmed_and_upper_cased(value, expected):
    assert normalise_uai(value) == expected


@pytest.mark.parametrize("value", ["", "054123X", "05412345", "A541234X", "0541234XY"])
def test_a_malformed_uai_is_refused_with_the_value_in_the_message(value):
    with pytest.raises(InvalidUai, match="n'est pas un code UAI"):
        normalise_uai(value)


def test_adding_a_school_announces_its_settings(accounts):
    with accounts.uow() as uow:
        add_school(uow, uai="0541234x", name=" Collège Jean Moulin ", academy_code="ncy")
        [event] = uow.pending_events
        uow.commit()
    assert event.type == "school.settings_changed" and event.school_uai == "0541234X"
    assert event.payload["name"] == "Collège Jean Moulin" and event.payload["academy_code"] == "NCY"
    assert event.payload["services_activated"] is False


def test_a_school_cannot_be_added_twice(accounts):
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    with accounts.uow() as uow, pytest.raises(AlreadyExists, match="0541234X existe déjà"):
        add_school(uow, uai="0541234X", name="Autre", academy_code="NCY")


@pytest.mark.parametrize("kwargs,message", [
    ({"name": ""}, "nom de l'établissement est obligatoire"),
    ({"academy_code": ""}, "code de l'académie est obligatoire"),
    ({"uai": "12"}, "n'est pas un code UAI"),
])
def test_a_school_with_a_missing_field_is_refused_and_nothing_is_stored(accounts, kwargs, message):
    fields = {"uai": "0541234X", "name": "Collège Jean Moulin", "academy_code": "NCY", **kwargs}
    with accounts.uow() as uow:
        with pytest.raises(InvalidInput, match=message):
            add_school(uow, **fields)
        assert uow.pending_events == []


def test_staff_sign_in_gives_a_head_of_school_every_right_on_the_school(accounts):
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase", head_of="0541234X")
        uow.commit()
    with accounts.uow() as uow:
        signed_in = sign_in_staff(uow, login=" Chef.Demo ", password="a long passphrase")
    [school] = signed_in.schools
    assert (school.name, school.is_head) == ("Collège Jean Moulin", True)
    assert school.rights == {"services", "settings", "guardian_access", "student_access", "statistics", "import",
                             "audit", "delegate"}


@pytest.mark.parametrize("login,password", [("chef.demo", "wrong passphrase"), ("nobody", "a long passphrase")])
def test_a_wrong_password_and_an_unknown_login_get_the_same_refusal(accounts, login, password):
    with accounts.uow() as uow:
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase")
        uow.commit()
    with accounts.uow() as uow, pytest.raises(AuthenticationFailed, match="Identifiant ou mot de passe incorrect"):
        sign_in_staff(uow, login=login, password=password)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"password": "short"}, InvalidInput, "au moins 10 caractères"),
    ({"login": "Chef Démo"}, InvalidInput, "Identifiant invalide"),
    ({"head_of": "0999999Z"}, NotFound, "0999999Z n'existe pas"),
])
def test_staff_creation_refuses_bad_input(accounts, kwargs, error, message):
    fields = {"login": "chef.demo", "display_name": "Mme Martin", "password": "a long passphrase", **kwargs}
    with accounts.uow() as uow, pytest.raises(error, match=message):
        create_staff(uow, **fields)


def test_a_staff_login_is_unique(accounts):
    with accounts.uow() as uow:
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase")
        uow.commit()
    with accounts.uow() as uow, pytest.raises(AlreadyExists):
        create_staff(uow, login="chef.demo", display_name="M. Autre", password="another passphrase")
