"""Use cases of academy administrators: the schools (identity block, SIECLE modules, heads) and
each academy's catalogue (services offered to its schools (C2), ENT addresses (D2), TIPI reference
list (C4)). Every change is audited (J2) and committed; a change of what a school's portal shows is
announced (school.settings_changed) for each school concerned.

An administrator acts on the academy they manage (academy_scope); a national administrator, and
ops, on every academy."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from ts_accounts.adapters.orm import (
    Academy, AcademyEntLink, AcademyService, PaymentSettings, School, SchoolEmail, SchoolService, StaffAssignment,
    StaffUser, TipiClient,
)
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.service_layer.academy_scope import (
    check_academy, check_new_school_academy, managed_academy, school_in_scope,
)
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.errors import AlreadyExists, InvalidInput, NotFound
from ts_accounts.service_layer.schools import (
    NATIONAL_SERVICES, SIECLE_MODULES, add_school, announce_settings, open_service_codes,
)
from ts_accounts.service_layer.services import normalise_tipi_number
from ts_accounts.service_layer.settings import check_web_address
from ts_shared.emails import MAX_EMAIL_LENGTH
from ts_shared.unit_of_work import UnitOfWork

MAX_ADDRESS_LINES = 4
ADDRESS_LINE_MAX = 38  # characters per line of a postal address (AFNOR XP Z10-011)
ACADEMIC_PREFIX = "academique_"
_POSTAL_CODE = re.compile(r"^\d{5}$")
_PHONE = re.compile(r"^[0-9+(). -]{6,40}$")
NATIONALLY_MANDATORY = frozenset(code for code, _, mandatory, _ in NATIONAL_SERVICES if mandatory)


def _catalogue_address(url: str | None, what: str, *, field: str = "url") -> str:
    """An address of the academy's catalogue, checked as the schools' own addresses are."""
    try:
        return check_web_address(url, missing="")
    except InvalidInput:
        raise InvalidInput(errors={field: f"{what} doit être une adresse web complète, par exemple "
                                          "https://www.ac-nancy-metz.fr/."}) from None


def _text(value: str | None, what: str, max_length: int, *, field: str) -> str:
    """A required text, spaces collapsed."""
    text = _optional_text(value, what, max_length, field=field)
    if text is None:
        raise InvalidInput(errors={field: f"{what} est obligatoire."})
    return text


def _optional_text(value: str | None, what: str, max_length: int, *, field: str) -> str | None:
    value = " ".join((value or "").split())
    if len(value) > max_length:
        raise InvalidInput(errors={field: f"{what} ne doit pas dépasser {max_length} caractères."})
    return value or None


# --- schools --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Head:
    login: str
    display_name: str


@dataclass(frozen=True)
class SchoolLine:
    uai: str
    name: str
    city: str | None
    academy_code: str
    activated_at: datetime | None
    heads: tuple[Head, ...]


@dataclass(frozen=True)
class AcademySchools:
    code: str
    name: str | None
    schools: tuple[SchoolLine, ...]


def _heads(session, uais) -> dict[str, list[Head]]:
    heads: dict[str, list[Head]] = {}
    for uai, login, name in session.execute(
            select(StaffAssignment.school_uai, StaffUser.login, StaffUser.display_name)
            .join(StaffUser, StaffUser.id == StaffAssignment.staff_id)
            .where(StaffAssignment.is_head.is_(True), StaffUser.active.is_(True), StaffAssignment.school_uai.in_(uais))
            .order_by(StaffUser.display_name)):
        heads.setdefault(uai, []).append(Head(login, name))
    return heads


def schools_by_academy(uow: UnitOfWork, actor: Actor) -> list[AcademySchools]:
    """The schools the administrator manages, grouped by academy (every academy listed)."""
    scope = managed_academy(uow, actor)
    query = select(School).order_by(School.academy_code, School.name, School.uai)
    academies_query = select(Academy)
    if scope is not None:
        query, academies_query = query.where(School.academy_code == scope), academies_query.where(Academy.code == scope)
    schools = list(uow.session.scalars(query))
    heads = _heads(uow.session, [school.uai for school in schools])
    names = {academy.code: academy.name for academy in uow.session.scalars(academies_query)}
    groups: dict[str, list[SchoolLine]] = {code: [] for code in sorted(names)}
    for school in schools:
        groups.setdefault(school.academy_code, []).append(SchoolLine(
            school.uai, school.name, school.city, school.academy_code, school.services_activated_at,
            tuple(heads.get(school.uai, ()))))
    return [AcademySchools(code, names.get(code), tuple(lines)) for code, lines in groups.items()]


def create_school(uow: UnitOfWork, actor: Actor, *, uai: str, name: str, academy_code: str,
                  city: str | None = None) -> School:
    check_new_school_academy(uow, actor, academy_code)
    school = add_school(uow, uai=uai, name=name, academy_code=academy_code, city=city)
    record(uow.session, actor, school_uai=school.uai, action="school.added", target=school.uai,
           summary=f"Ajout de l'établissement {school.name} ({school.uai}), académie {school.academy_code}")
    uow.commit()
    return school


@dataclass(frozen=True)
class SchoolDetail:
    school: School
    emails: tuple[SchoolEmail, ...]
    heads: tuple[Head, ...]


def school_detail(uow: UnitOfWork, actor: Actor, uai: str) -> SchoolDetail:
    school = school_in_scope(uow, actor, uai)
    emails = tuple(uow.session.scalars(select(SchoolEmail).where(SchoolEmail.school_uai == uai)
                                       .order_by(SchoolEmail.address)))
    return SchoolDetail(school, emails, tuple(_heads(uow.session, [uai]).get(uai, ())))


def update_identity(uow: UnitOfWork, actor: Actor, uai: str, *, name: str, address_lines: list[str],
                    postal_code: str | None, city: str | None, phone: str | None,
                    siecle_modules: list[str]) -> list[str]:
    """The school's identity block (letters, portal contact page) and the SIECLE modules it uses
    (C2: some services need one). Returns the French names of what changed; announced if any."""
    school = school_in_scope(uow, actor, uai)
    name = _text(name, "Le nom de l'établissement", 200, field="name")
    lines = [line for line in (" ".join((line or "").split()) for line in address_lines) if line]
    if len(lines) > MAX_ADDRESS_LINES:
        raise InvalidInput(errors={"address_lines": f"L'adresse postale compte {MAX_ADDRESS_LINES} lignes au plus."})
    if any(len(line) > ADDRESS_LINE_MAX for line in lines):
        raise InvalidInput(errors={"address_lines": f"Chaque ligne de l'adresse compte {ADDRESS_LINE_MAX} caractères "
                                                    "au plus."})
    postal_code = (postal_code or "").strip() or None
    if postal_code and not _POSTAL_CODE.match(postal_code):
        raise InvalidInput(errors={"postal_code": "Le code postal se compose de 5 chiffres."})
    city = _optional_text(city, "La commune", 100, field="city")
    phone = " ".join((phone or "").split()) or None
    if phone and not _PHONE.match(phone):
        raise InvalidInput(errors={"phone": "Le numéro de téléphone ne peut contenir que des chiffres, des espaces "
                                            "et « + . - ( ) »."})
    unknown = set(siecle_modules) - set(SIECLE_MODULES)
    if unknown:
        raise InvalidInput(errors={"siecle_modules": f"Module SIECLE inconnu : {', '.join(sorted(unknown))}."})
    modules = [module for module in SIECLE_MODULES if module in siecle_modules]
    new = {"name": name, "address_lines": lines, "postal_code": postal_code, "city": city, "phone": phone,
           "siecle_modules": modules}
    labels = {"name": "nom", "address_lines": "adresse", "postal_code": "code postal", "city": "commune",
              "phone": "téléphone", "siecle_modules": "modules SIECLE"}
    changed = [key for key, value in new.items() if (getattr(school, key) or None) != (value or None)]
    if not changed:
        uow.commit()
        return []
    before_modules = list(school.siecle_modules or [])
    for key in changed:
        setattr(school, key, new[key])
    detail = {key: new[key] for key in changed}
    summary = f"Modification de l'identité de l'établissement {school.name} : {', '.join(labels[k] for k in changed)}"
    if "siecle_modules" in changed:
        added = [SIECLE_MODULES[m] for m in modules if m not in before_modules]
        removed = [SIECLE_MODULES[m] for m in before_modules if m in SIECLE_MODULES and m not in modules]
        summary += "".join([f" ; module(s) {', '.join(added)} initialisé(s)" if added else "",
                            f" ; module(s) {', '.join(removed)} retiré(s)" if removed else ""])
    record(uow.session, actor, school_uai=uai, action="school.identity_changed", target=uai, summary=summary,
           detail=detail)
    announce_settings(uow, school)
    uow.commit()
    return [labels[key] for key in changed]


def add_school_email(uow: UnitOfWork, actor: Actor, uai: str, *, address: str, label: str | None = None) -> SchoolEmail:
    """An address of the school (D4 offers them as the portal's contact address)."""
    school = school_in_scope(uow, actor, uai)
    address = (address or "").strip()
    if not is_valid_email(address) or len(address) > MAX_EMAIL_LENGTH:
        raise InvalidInput(errors={"address": "Saisissez une adresse électronique valide, par exemple "
                                              "ce.0541234x@ac-nancy-metz.fr."})
    label = _optional_text(label, "Le libellé", 100, field="label")
    exists = uow.session.scalar(select(SchoolEmail).where(SchoolEmail.school_uai == uai,
                                                          func.lower(SchoolEmail.address) == address.lower()))
    if exists is not None:
        raise AlreadyExists(errors={"address": f"L'adresse {address} est déjà enregistrée pour cet établissement."})
    email = SchoolEmail(school_uai=uai, address=address, label=label)
    uow.session.add(email)
    record(uow.session, actor, school_uai=uai, action="school.email_added", target=address,
           summary=f"Ajout de l'adresse électronique {address}{f' ({label})' if label else ''} à {school.name}")
    announce_settings(uow, school)
    uow.commit()
    return email


def remove_school_email(uow: UnitOfWork, actor: Actor, uai: str, email_id: int) -> tuple[SchoolEmail, bool]:
    """Returns the address removed and whether it was the portal's contact address (D4), which
    the portal then stops offering."""
    school = school_in_scope(uow, actor, uai)
    email = uow.session.get(SchoolEmail, email_id)
    if email is None or email.school_uai != uai:
        raise NotFound("Cette adresse électronique n'existe plus.")
    was_contact = bool(school.contact_active and school.contact_email == email.address)
    uow.session.delete(email)
    record(uow.session, actor, school_uai=uai, action="school.email_removed", target=email.address,
           summary=f"Suppression de l'adresse électronique {email.address} de {school.name}"
                   + (" (c'était l'adresse du lien de contact)" if was_contact else ""))
    uow.session.flush()
    announce_settings(uow, school)
    uow.commit()
    return email, was_contact


# --- the academies' catalogues ------------------------------------------------------------------

@dataclass(frozen=True)
class Catalogue:
    academy: Academy
    national: tuple[AcademyService, ...]
    academic: tuple[AcademyService, ...]
    ent_links: tuple[AcademyEntLink, ...]
    tipi_clients: tuple[TipiClient, ...]
    schools: int


def academies(uow: UnitOfWork, actor: Actor) -> list[Academy]:
    """The academies the administrator manages."""
    scope = managed_academy(uow, actor)
    query = select(Academy).order_by(Academy.code)
    return list(uow.session.scalars(query if scope is None else query.where(Academy.code == scope)))


def get_academy(uow: UnitOfWork, code: str) -> Academy:
    academy = uow.session.get(Academy, (code or "").strip().upper())
    if academy is None:
        raise NotFound(f"L'académie {code} n'existe pas.")
    return academy


def _academy(uow: UnitOfWork, actor: Actor, code: str) -> Academy:
    check_academy(uow, actor, code)
    return get_academy(uow, code)


def catalogue(uow: UnitOfWork, actor: Actor, code: str) -> Catalogue:
    academy = _academy(uow, actor, code)
    services = list(uow.session.scalars(select(AcademyService).where(AcademyService.academy_code == academy.code)
                                        .order_by(AcademyService.position, AcademyService.code)))
    links = uow.session.scalars(select(AcademyEntLink).where(AcademyEntLink.academy_code == academy.code)
                                .order_by(AcademyEntLink.label, AcademyEntLink.id))
    tipi = uow.session.scalars(select(TipiClient).where(TipiClient.academy_code == academy.code)
                               .order_by(TipiClient.number))
    schools = uow.session.scalar(
        select(func.count()).select_from(School).where(School.academy_code == academy.code)) or 0
    return Catalogue(academy, tuple(s for s in services if s.scope == "national"),
                     tuple(s for s in services if s.scope != "national"), tuple(links), tuple(tipi), schools)


def _open_services_of(session, academy_code: str) -> dict[str, list[str]]:
    schools = session.scalars(select(School).where(School.academy_code == academy_code,
                                                   School.services_activated_at.is_not(None)))
    return {school.uai: open_service_codes(session, school) for school in schools}


def _announce_changed_schools(uow: UnitOfWork, academy_code: str, before: dict[str, list[str]],
                              also: frozenset[str] | set[str] = frozenset()) -> int:
    """Announce the settings of every school of the academy whose open services changed (and of
    the schools in `also`). Returns how many were announced."""
    uow.session.flush()
    after = _open_services_of(uow.session, academy_code)
    announced = 0
    for school in uow.session.scalars(select(School).where(School.academy_code == academy_code).order_by(School.uai)):
        if before.get(school.uai) != after.get(school.uai) or school.uai in also:
            announce_settings(uow, school)
            announced += 1
    return announced


def _service(uow: UnitOfWork, academy_code: str, code: str) -> AcademyService:
    service = uow.session.get(AcademyService, (academy_code, code))
    if service is None:
        raise NotFound("Ce téléservice n'existe pas dans cette académie.")
    return service


def set_service_flags(uow: UnitOfWork, actor: Actor, academy_code: str, code: str, *,
                      enabled: bool | None = None, mandatory: bool | None = None) -> AcademyService:
    """Offer a service to the academy's schools or not (C2), make it mandatory there or not.
    Services mandatory nationally (Livret scolaire du lycée) stay offered and mandatory."""
    academy = _academy(uow, actor, academy_code)
    service = _service(uow, academy.code, code)
    nationally_mandatory = service.code in NATIONALLY_MANDATORY and service.scope == "national"
    if nationally_mandatory and (enabled is False or mandatory is False):
        raise InvalidInput(f"Le téléservice {service.label} est obligatoire au niveau national : il reste proposé "
                           "et ouvert dans tous les établissements.")
    before = _open_services_of(uow.session, academy.code)
    summaries = []
    if enabled is not None and service.enabled != enabled:
        service.enabled = enabled
        summaries.append(f"{'Activation' if enabled else 'Désactivation'} du téléservice {service.label} "
                         f"pour l'académie {academy.code}")
    if mandatory is not None and service.mandatory != mandatory:
        service.mandatory = mandatory
        summaries.append(f"Téléservice {service.label} rendu {'obligatoire' if mandatory else 'facultatif'} "
                         f"dans l'académie {academy.code}")
    if summaries:
        announced = _announce_changed_schools(uow, academy.code, before)
        record(uow.session, actor, school_uai=None, action="academy.service_changed", target=f"{academy.code}/{code}",
               summary=" ; ".join(summaries), detail={"enabled": service.enabled, "mandatory": service.mandatory,
                                                       "schools_announced": announced})
    uow.commit()
    return service


def add_academic_service(uow: UnitOfWork, actor: Actor, academy_code: str, *, label: str, url: str) -> AcademyService:
    """An academy's own service (« Service académique »): closed in every school until opened."""
    academy = _academy(uow, actor, academy_code)
    label = _text(label, "Le libellé du téléservice", 200, field="label")
    url = _catalogue_address(url, "L'adresse du téléservice")
    services = list(uow.session.scalars(select(AcademyService).where(AcademyService.academy_code == academy.code)))
    if any(s.label.lower() == label.lower() for s in services):
        raise AlreadyExists(errors={"label": f"L'académie propose déjà un téléservice « {label} »."})
    numbers = [int(s.code.removeprefix(ACADEMIC_PREFIX)) for s in services
               if s.code.startswith(ACADEMIC_PREFIX) and s.code.removeprefix(ACADEMIC_PREFIX).isdigit()]
    code = f"{ACADEMIC_PREFIX}{max(numbers, default=0) + 1}"
    service = AcademyService(academy_code=academy.code, code=code, label=label, scope="academic", mandatory=False,
                             required_module=None, enabled=True, url=url,
                             position=max((s.position for s in services), default=0) + 1)
    uow.session.add(service)
    record(uow.session, actor, school_uai=None, action="academy.service_added", target=f"{academy.code}/{code}",
           summary=f"Ajout du téléservice académique « {label} » ({url}) à l'académie {academy.code}")
    uow.commit()
    return service


def _academic(uow: UnitOfWork, academy_code: str, code: str) -> AcademyService:
    service = _service(uow, academy_code, code)
    if service.scope == "national":
        raise InvalidInput("Un téléservice national ne se modifie pas ici : il peut seulement être activé ou "
                           "désactivé.")
    return service


def update_academic_service(uow: UnitOfWork, actor: Actor, academy_code: str, code: str, *, label: str,
                            url: str) -> AcademyService:
    academy = _academy(uow, actor, academy_code)
    service = _academic(uow, academy.code, code)
    label = _text(label, "Le libellé du téléservice", 200, field="label")
    url = _catalogue_address(url, "L'adresse du téléservice")
    if uow.session.scalar(select(AcademyService).where(AcademyService.academy_code == academy.code,
                                                       AcademyService.code != code,
                                                       func.lower(AcademyService.label) == label.lower())):
        raise AlreadyExists(errors={"label": f"L'académie propose déjà un téléservice « {label} »."})
    if (service.label, service.url) == (label, url):
        uow.commit()
        return service
    before = f"« {service.label} » ({service.url})"
    service.label, service.url = label, url
    # The schools where it is open show its tile: announce them.
    opened = set(uow.session.scalars(select(SchoolService.school_uai).where(
        SchoolService.service_code == code, SchoolService.open.is_(True))))
    _announce_changed_schools(uow, academy.code, _open_services_of(uow.session, academy.code), also=opened)
    record(uow.session, actor, school_uai=None, action="academy.service_changed", target=f"{academy.code}/{code}",
           summary=f"Modification du téléservice académique {before} : « {label} » ({url})")
    uow.commit()
    return service


def delete_academic_service(uow: UnitOfWork, actor: Actor, academy_code: str, code: str) -> AcademyService:
    """Removes the service from the academy and its schools (their opening of it included)."""
    academy = _academy(uow, actor, academy_code)
    service = _academic(uow, academy.code, code)
    before = _open_services_of(uow.session, academy.code)
    uais = select(School.uai).where(School.academy_code == academy.code)
    uow.session.execute(delete(SchoolService).where(SchoolService.service_code == code,
                                                    SchoolService.school_uai.in_(uais)))
    uow.session.delete(service)
    announced = _announce_changed_schools(uow, academy.code, before)
    record(uow.session, actor, school_uai=None, action="academy.service_deleted", target=f"{academy.code}/{code}",
           summary=f"Suppression du téléservice académique « {service.label} » de l'académie {academy.code}",
           detail={"schools_announced": announced})
    uow.commit()
    return service


def add_ent_link(uow: UnitOfWork, actor: Actor, academy_code: str, *, label: str, url: str) -> AcademyEntLink:
    """D2: an ENT address the academy's schools can choose."""
    academy = _academy(uow, actor, academy_code)
    label = _text(label, "Le libellé de l'ENT", 200, field="label")
    url = _catalogue_address(url, "L'adresse de l'ENT")
    if uow.session.scalar(select(AcademyEntLink).where(AcademyEntLink.academy_code == academy.code,
                                                       AcademyEntLink.url == url)):
        raise AlreadyExists(errors={"url": f"L'adresse {url} est déjà dans la liste des ENT de l'académie."})
    link = AcademyEntLink(academy_code=academy.code, label=label, url=url)
    uow.session.add(link)
    record(uow.session, actor, school_uai=None, action="academy.ent_link_added", target=academy.code,
           summary=f"Ajout de l'ENT « {label} » ({url}) à la liste de l'académie {academy.code}")
    uow.commit()
    return link


def remove_ent_link(uow: UnitOfWork, actor: Actor, academy_code: str, link_id: int) -> AcademyEntLink:
    """Schools that chose this address keep it (they typed or copied it in D2)."""
    academy = _academy(uow, actor, academy_code)
    link = uow.session.get(AcademyEntLink, link_id)
    if link is None or link.academy_code != academy.code:
        raise NotFound("Cet ENT n'est plus dans la liste de l'académie.")
    uow.session.delete(link)
    record(uow.session, actor, school_uai=None, action="academy.ent_link_removed", target=academy.code,
           summary=f"Retrait de l'ENT « {link.label} » ({link.url}) de la liste de l'académie {academy.code}")
    uow.commit()
    return link


def add_tipi_client(uow: UnitOfWork, actor: Actor, academy_code: str, *, number: str, holder: str) -> TipiClient:
    """C4: a TIPI client number of the academy's reference list, and who holds it."""
    academy = _academy(uow, actor, academy_code)
    try:
        number = normalise_tipi_number(number)
    except InvalidInput as error:
        raise InvalidInput(errors={"number": str(error)}) from None
    holder = _text(holder, "Le titulaire du numéro client TIPI", 200, field="holder")
    existing = uow.session.get(TipiClient, number)
    if existing is not None:
        where = f"l'académie {existing.academy_code}" if existing.academy_code else "le référentiel national"
        raise AlreadyExists(errors={"number": f"Le numéro client TIPI {number} est déjà dans {where} "
                                              f"({existing.holder})."})
    client = TipiClient(number=number, holder=holder, academy_code=academy.code)
    uow.session.add(client)
    record(uow.session, actor, school_uai=None, action="academy.tipi_added", target=number,
           summary=f"Ajout du client TIPI {number} ({holder}) au référentiel de l'académie {academy.code}")
    uow.commit()
    return client


def remove_tipi_client(uow: UnitOfWork, actor: Actor, academy_code: str, number: str) -> TipiClient:
    academy = _academy(uow, actor, academy_code)
    client = uow.session.get(TipiClient, number)
    if client is None or client.academy_code != academy.code:
        raise NotFound("Ce numéro client TIPI n'est plus dans le référentiel de l'académie.")
    users = list(uow.session.scalars(select(School.name).join(PaymentSettings, PaymentSettings.school_uai == School.uai)
                                     .where(PaymentSettings.tipi_client_number == number)))
    if users:
        raise InvalidInput(f"Le numéro client TIPI {number} est utilisé pour le paiement en ligne de : "
                           f"{', '.join(users)}. Il ne peut pas être retiré du référentiel.")
    uow.session.delete(client)
    record(uow.session, actor, school_uai=None, action="academy.tipi_removed", target=number,
           summary=f"Retrait du client TIPI {number} ({client.holder}) du référentiel de l'académie {academy.code}")
    uow.commit()
    return client
