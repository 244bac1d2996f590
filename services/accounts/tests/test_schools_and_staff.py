"""Schools and staff users of the accounts service (domain rules and use cases)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from ts_accounts.adapters.orm import Academy, AcademyService, StaffUser
from ts_accounts.domain.schools import InvalidUai, normalise_uai
from ts_accounts.service_layer.academy import add_academic_service
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.errors import (
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
)
from ts_accounts.service_layer.schools import (
    activate_services,
    add_school,
    set_academy_name,
)
from ts_accounts.service_layer.services import set_services
from ts_accounts.service_layer.staff import appoint_head, create_staff, sign_in_staff
from ts_shared.messaging.envelope import parse_event
from ts_shared.messaging.events import SchoolSettingsChangedSchema
from ts_shared.runtime.cli import cli
from ts_shared.service import ServiceRuntime


@pytest.fixture
def accounts(platform):
    return platform.runtime("accounts")


def last_event(runtime: ServiceRuntime):
    """The last event committed to the outbox."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        envelope = connection.execute(select(outbox.c.envelope).order_by(outbox.c.id.desc()).limit(1)).scalar_one()
    return parse_event(json.loads(envelope))


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


def test_the_settings_tell_the_letters_the_academy_name_the_city_the_head_and_the_service_labels(accounts):
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        activate_services(uow, "0541234X")
        add_academic_service(uow, Actor("test"), "NCY", label="Réservation de repas", url="https://repas.example.org")
        code = uow.session.scalars(select(AcademyService.code).where(AcademyService.scope == "academic")).one()
        set_services(uow, Actor("test"), "0541234X", {code: True})
        create_staff(uow, login="ancien.chef", display_name="M. Jean Dupont", password="x" * 12, head_of="0541234X")
        appoint_head(uow, Actor("test"), uai="0541234X", login="chef.nouveau", display_name="Mme Claire Martin",
                     initial_password="y" * 12)
        set_academy_name(uow, "ncy", "  Nancy-Metz ")  # a use case: it commits
    payload = SchoolSettingsChangedSchema().load(last_event(accounts).payload)
    assert payload["academy_name"] == "Nancy-Metz" and payload["city"] == "Nancy"
    assert payload["head_name"] == "Mme Claire Martin"  # the head appointed last signs
    assert payload["service_labels"][code] == "Réservation de repas"
    assert set(payload["service_labels"]) == set(payload["open_services"]) and code in payload["open_services"]


@pytest.mark.parametrize("academy,name,error", [("ncy", "", InvalidInput), ("ncy", "x" * 201, InvalidInput),
                                                ("XYZ", "Nulle part", NotFound)])
def test_a_bad_academy_name_is_refused_and_changes_nothing(accounts, academy, name, error):
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    with accounts.uow() as uow, pytest.raises(error):
        set_academy_name(uow, academy, name)
    with accounts.uow() as uow:
        assert uow.session.get(Academy, "NCY").name is None


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
        create_staff(
            uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase", head_of="0541234X"
        )
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


def test_ops_name_an_academy_and_create_its_administrator_with_tsctl(accounts, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(accounts.settings.data_dir))
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    result = CliRunner().invoke(cli, ["academy", "set-name", "NCY", "Nancy-Metz"])
    assert result.exit_code == 0 and "Académie NCY : Nancy-Metz." in result.output
    result = CliRunner().invoke(cli, ["staff", "create", "--login", "admin.ncy", "--name", "Mme Anne Roux",
                                      "--academy-admin", "--academy", "ncy"], env={"TS_STAFF_PASSWORD": "z" * 14})
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["academy", "set-name", "ABC", "Nulle part"])
    assert result.exit_code == 1 and "L'académie ABC n'existe pas." in result.output
    result = CliRunner().invoke(cli, ["staff", "create", "--login", "chef.x", "--name", "X", "--academy", "NCY"],
                                env={"TS_STAFF_PASSWORD": "z" * 14})
    assert result.exit_code == 1 and "Seul un administrateur académique est rattaché à une académie." in result.output
    with accounts.uow() as uow:
        assert uow.session.get(Academy, "NCY").name == "Nancy-Metz"
        staff = uow.session.scalars(select(StaffUser).where(StaffUser.login.in_(["admin.ncy", "chef.x"]))).all()
        assert [(s.login, s.academy_admin, s.academy_code) for s in staff] == [("admin.ncy", True, "NCY")]
