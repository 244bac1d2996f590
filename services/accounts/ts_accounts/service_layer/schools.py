"""Use cases on schools."""
from __future__ import annotations

from sqlalchemy import select

from ts_accounts.adapters.orm import Academy, School
from ts_accounts.domain.logins import LoginFormat
from ts_accounts.domain.schools import InvalidUai, normalise_uai
from ts_accounts.service_layer.errors import AlreadyExists, InvalidInput, NotFound
from ts_shared.unit_of_work import UnitOfWork


def settings_payload(school: School) -> dict:
    """What the portal and the notifier need to know of a school (school.settings_changed)."""
    return {
        "settings_version": school.settings_version,
        "name": school.name,
        "academy_code": school.academy_code,
        "services_activated": school.services_activated_at is not None,
        "welcome_message_html": school.welcome_message_html,
    }


def add_school(uow: UnitOfWork, *, uai: str, name: str, academy_code: str, city: str | None = None) -> School:
    try:
        uai = normalise_uai(uai)
    except InvalidUai as error:
        raise InvalidInput(str(error)) from None
    name, academy_code = (name or "").strip(), (academy_code or "").strip().upper()
    if not name:
        raise InvalidInput("Le nom de l'établissement est obligatoire.")
    if not academy_code or len(academy_code) > 10:
        raise InvalidInput("Le code de l'académie est obligatoire (10 caractères au plus).")
    if uow.session.get(School, uai) is not None:
        raise AlreadyExists(f"L'établissement {uai} existe déjà.")
    if uow.session.get(Academy, academy_code) is None:
        uow.session.add(Academy(code=academy_code, login_format="first.last"))
    school = School(uai=uai, name=name, academy_code=academy_code, city=(city or "").strip() or None,
                    welcome_message_html="", settings_version=1)
    uow.session.add(school)
    uow.session.flush()
    uow.emit("school.settings_changed", settings_payload(school), school_uai=uai)
    return school


def get_school(uow: UnitOfWork, uai: str) -> School:
    school = uow.session.get(School, uai)
    if school is None:
        raise NotFound(f"L'établissement {uai} n'existe pas.")
    return school


def list_schools(uow: UnitOfWork) -> list[School]:
    return list(uow.session.scalars(select(School).order_by(School.uai)))


def set_login_format(uow: UnitOfWork, academy_code: str, login_format: str) -> Academy:
    """B2: the academy's login format for accounts created from now on (existing logins stay)."""
    try:
        login_format = LoginFormat(login_format)
    except ValueError:
        raise InvalidInput(f"Format d'identifiant inconnu « {login_format} » (first.last ou f.last).") from None
    academy = uow.session.get(Academy, (academy_code or "").strip().upper())
    if academy is None:
        raise NotFound(f"L'académie {academy_code} n'existe pas.")
    academy.login_format = login_format.value
    return academy
