"""Use cases on schools: the directory of schools, activation (C1), the services catalogue (C2)
and what the portal and the letters must know of a school (school.settings_changed)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from ts_accounts.adapters.orm import (
    Academy, AcademyService, Account, AccountLink, School, SchoolEmail, SchoolService, StaffAssignment, StaffUser,
    Student, UsefulLink,
)
from ts_accounts.domain.logins import LoginFormat
from ts_accounts.domain.schools import InvalidUai, normalise_uai
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.directory import lock_school
from ts_accounts.service_layer.errors import AlreadyExists, InvalidInput, NotFound
from ts_shared.calendar import current_school_year, school_year_begins
from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork

# C2: the national services every academy starts with (seed 003 §8.1); academies add their own.
NATIONAL_SERVICES = (
    # code, label, mandatory, SIECLE module required
    ("vie_scolaire", "Vie scolaire", False, None),
    ("notes", "Notes", False, "notes"),
    ("lsl", "Livret scolaire du lycée", True, None),
    ("fiche_renseignements", "Fiche de renseignements", False, None),
    ("paiement", "Paiement en ligne des factures", False, None),
    ("lsun", "Livret scolaire du CP à la 3e", False, None),
    ("folios", "Folios", False, None),
)
SIECLE_MODULES = {"notes": "SIECLE Notes"}


def ensure_academy(uow: UnitOfWork, academy_code: str) -> Academy:
    academy = uow.session.get(Academy, academy_code)
    if academy is None:
        academy = Academy(code=academy_code, login_format=LoginFormat.FIRST_DOT_LAST.value)
        uow.session.add(academy)
        for position, (code, label, mandatory, module) in enumerate(NATIONAL_SERVICES):
            uow.session.add(AcademyService(academy_code=academy_code, code=code, label=label, scope="national",
                                           mandatory=mandatory, required_module=module, enabled=True,
                                           position=position))
        uow.session.flush()
    return academy


def open_service_codes(session, school: School) -> list[str]:
    """Services open on the school's portal: mandatory ones always, others if opened (C2), and
    only while the academy offers them and the school has their SIECLE module."""
    offered = session.scalars(select(AcademyService).where(AcademyService.academy_code == school.academy_code,
                                                           AcademyService.enabled.is_(True))
                              .order_by(AcademyService.position, AcademyService.code)).all()
    opened = {row.service_code for row in session.scalars(
        select(SchoolService).where(SchoolService.school_uai == school.uai, SchoolService.open.is_(True)))}
    modules = set(school.siecle_modules or [])
    return [service.code for service in offered
            if (service.mandatory or service.code in opened)
            and (service.required_module is None or service.required_module in modules)]


def _head_name(session, uai: str) -> str | None:
    """The head who signs the letters: the one appointed last, if several."""
    return session.scalar(
        select(StaffUser.display_name).join(StaffAssignment, StaffAssignment.staff_id == StaffUser.id)
        .where(StaffAssignment.school_uai == uai, StaffAssignment.is_head.is_(True), StaffUser.active.is_(True))
        .order_by(StaffAssignment.id.desc()).limit(1))


def settings_payload(session, school: School) -> dict:
    """What the portal and the notifier need to know of a school (school.settings_changed)."""
    emails_configured = {
        e.address for e in session.scalars(select(SchoolEmail).where(SchoolEmail.school_uai == school.uai))
    }
    contact = school.contact_email if school.contact_active and school.contact_email in emails_configured else None
    links = session.scalars(select(UsefulLink).where(UsefulLink.school_uai == school.uai)
                            .order_by(UsefulLink.created_at, UsefulLink.id)).all()
    activated = school.services_activated_at is not None
    open_services = open_service_codes(session, school) if activated else []
    academy = session.get(Academy, school.academy_code)
    offered = session.execute(select(AcademyService.code, AcademyService.label, AcademyService.url).where(
        AcademyService.academy_code == school.academy_code, AcademyService.code.in_(open_services))).all()
    labels = {code: label for code, label, _ in offered}
    return {
        "settings_version": school.settings_version,
        "name": school.name,
        "academy_code": school.academy_code,
        "academy_name": academy.name if academy else None,
        "city": school.city,
        "head_name": _head_name(session, school.uai),
        "services_activated": activated,
        "welcome_message_html": school.welcome_message_html,
        "open_services": open_services,
        "service_labels": labels,
        "service_urls": {code: url for code, _, url in offered if url},
        "letter_type": school.letter_type,
        "ent_url": school.ent_url if school.letter_type != "teleservices" else None,
        "contact_email": contact,
        "address_lines": [*school.address_lines, " ".join(p for p in (school.postal_code, school.city) if p)]
        if school.address_lines or school.city else [],
        "phone": school.phone,
        "useful_links": [{"label": link.label, "url": link.url} for link in links],
    }


def announce_settings(uow: UnitOfWork, school: School) -> None:
    """After a change of anything the portal or letters show: the next version, given by the
    database (`settings_version + 1`: the UPDATE waits for another transaction changing the
    school), and the event built from the school as it now is — whether or not this transaction
    loaded it with lock_school (see directory)."""
    uow.session.execute(update(School).where(School.uai == school.uai)
                        .values(settings_version=School.settings_version + 1)
                        .execution_options(synchronize_session=False))
    uow.session.refresh(school)
    uow.emit("school.settings_changed", settings_payload(uow.session, school), school_uai=school.uai)


def add_school(uow: UnitOfWork, *, uai: str, name: str, academy_code: str, city: str | None = None) -> School:
    try:
        uai = normalise_uai(uai)
    except InvalidUai as error:
        raise InvalidInput(errors={"uai": str(error)}) from None
    name, academy_code = (name or "").strip(), (academy_code or "").strip().upper()
    if not name:
        raise InvalidInput(errors={"name": "Le nom de l'établissement est obligatoire."})
    if not academy_code or len(academy_code) > 10:
        raise InvalidInput(errors={"academy_code": "Le code de l'académie est obligatoire (10 caractères au plus)."})
    if uow.session.get(School, uai) is not None:
        raise AlreadyExists(errors={"uai": f"L'établissement {uai} existe déjà."})
    ensure_academy(uow, academy_code)
    school = School(uai=uai, name=name, academy_code=academy_code, city=(city or "").strip() or None,
                    welcome_message_html="", settings_version=1, address_lines=[], letter_type="teleservices",
                    contact_active=False, siecle_modules=[])
    school.school_year = current_school_year()  # I2: a school starts in the current school year
    school.school_year_started_at = school_year_begins(school.school_year)
    uow.session.add(school)
    uow.session.flush()
    uow.emit("school.settings_changed", settings_payload(uow.session, school), school_uai=uai)
    return school


def get_school(uow: UnitOfWork, uai: str, *, for_change: bool = False) -> School:
    """The school (NotFound otherwise); `for_change`: locked and read afresh (lock_school)."""
    school = lock_school(uow.session, uai) if for_change else uow.session.get(School, uai)
    if school is None:
        raise NotFound(f"L'établissement {uai} n'existe pas.")
    return school


def list_schools(uow: UnitOfWork, academy_code: str | None = None) -> list[School]:
    query = select(School).order_by(School.uai)
    if academy_code:
        query = query.where(School.academy_code == academy_code)
    return list(uow.session.scalars(query))


def activate_services(uow: UnitOfWork, uai: str, *, now: datetime | None = None) -> School:
    """C1: once per school; mandatory services are open from then on."""
    school = get_school(uow, uai, for_change=True)
    if school.services_activated_at is None:
        school.services_activated_at = now or utcnow()
        announce_settings(uow, school)
    return school


def activate_online_services(uow: UnitOfWork, actor: Actor, uai: str) -> School:
    """C1 from the console: the school activates its online services (recorded in its audit log)."""
    school = activate_services(uow, uai)
    record(uow.session, actor, school_uai=school.uai, action="services.activated",
           summary=f"Activation des téléservices de {school.name}")
    uow.commit()
    return school


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
    uow.commit()
    return academy


def set_academy_name(uow: UnitOfWork, academy_code: str, name: str) -> Academy:
    """The academy's name, as letters print it (« Académie de Nancy-Metz »)."""
    academy = uow.session.get(Academy, (academy_code or "").strip().upper())
    if academy is None:
        raise NotFound(f"L'académie {academy_code} n'existe pas.")
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("Le nom de l'académie est obligatoire (200 caractères au plus), par exemple Nancy-Metz.")
    if academy.name != name:
        academy.name = name
        # In one order: each announce locks its school until commit (see announce_settings).
        for school in uow.session.scalars(select(School).where(School.academy_code == academy.code)
                                          .order_by(School.uai)):
            announce_settings(uow, school)
    uow.commit()
    return academy


@dataclass(frozen=True)
class SchoolOverview:
    students: int
    accounts: dict[str, Counter]  # kind -> state -> count (a guardian account counted per child)
    last_import_at: datetime | None
    open_services: int


def school_overview(uow: UnitOfWork, uai: str) -> SchoolOverview:
    session = uow.session
    students = session.scalar(select(func.count()).select_from(Student)
                              .where(Student.school_uai == uai, Student.departed_at.is_(None))) or 0
    accounts: dict[str, Counter[str]] = {"student": Counter(), "guardian": Counter()}
    for kind, state, count in session.execute(
            select(Account.kind, Account.state, func.count()).join(AccountLink, AccountLink.account_id == Account.id)
            .where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None), Account.closed_at.is_(None))
            .group_by(Account.kind, Account.state)):
        accounts[kind][state] = count
    last_import = session.scalar(select(func.max(Student.updated_at)).where(Student.school_uai == uai))
    school = session.get_one(School, uai)
    return SchoolOverview(students, accounts, last_import, len(open_service_codes(session, school)))
