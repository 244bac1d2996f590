"""Use cases of the menu « Gestion des téléservices » of a school: opening and closing each online
service (C2), the publication of marks (C3, « Configuration Notes ») and the online payment of
invoices (C4). Each change is written to the audit log (J2) in the same transaction; a change of
what the portal shows is announced (school.settings_changed)."""
from __future__ import annotations

from typing import Any
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from collections.abc import Mapping

from sqlalchemy import or_, select

from ts_accounts.adapters.orm import (
    AcademyService, Mef, NotesPublicationDate, NotesSettings, PaymentSettings, School, SchoolService, Student,
    TipiClient,
)
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.errors import Conflict, InvalidInput, NotFound
from ts_accounts.service_layer.schools import SIECLE_MODULES, announce_settings, get_school, open_service_codes
from ts_shared.db import utcnow
from ts_shared.emails import MAX_EMAIL_LENGTH
from ts_shared.unit_of_work import UnitOfWork

NOTES = "notes"
PAYMENT = "paiement"

# --- C2: opening and closing services ------------------------------------------------------------


def module_missing_reason(module: str) -> str:
    """Why a service needing a SIECLE module the school does not use cannot be opened (seed 003 §8.1)."""
    name = SIECLE_MODULES.get(module, module).removeprefix("SIECLE ").strip()
    return f"Pour bénéficier de ce téléservice, il vous faut préalablement initialiser le module {name}."


@dataclass(frozen=True)
class ServiceChoice:
    """One line of the « Ouverture / fermeture » screen."""

    code: str
    label: str
    scope: str  # national | academic
    mandatory: bool
    is_open: bool
    unavailable_reason: str | None  # the school lacks the SIECLE module the service needs

    @property
    def changeable(self) -> bool:
        return not self.mandatory and self.unavailable_reason is None


def offered_services(session, academy_code: str) -> list[AcademyService]:
    """The services the academy offers its schools: national ones first, then its own."""
    services = session.scalars(select(AcademyService).where(AcademyService.academy_code == academy_code,
                                                            AcademyService.enabled.is_(True))
                               .order_by(AcademyService.position, AcademyService.code)).all()
    return sorted(services, key=lambda s: (s.scope != "national", s.position, s.code))


def service_choices(uow: UnitOfWork, uai: str) -> list[ServiceChoice]:
    school = get_school(uow, uai)
    opened = {row.service_code: row.open for row in uow.session.scalars(
        select(SchoolService).where(SchoolService.school_uai == uai))}
    modules = set(school.siecle_modules or [])
    choices = []
    for service in offered_services(uow.session, school.academy_code):
        reason = (module_missing_reason(service.required_module)
                  if service.required_module and service.required_module not in modules else None)
        is_open = reason is None and (service.mandatory or opened.get(service.code, False))
        choices.append(ServiceChoice(service.code, service.label, service.scope, service.mandatory, is_open, reason))
    return choices


@dataclass(frozen=True)
class ServiceChange:
    code: str
    label: str
    opened: bool


def set_services(uow: UnitOfWork, actor: Actor, uai: str, wanted: Mapping[str, bool], *,
                 now: datetime | None = None) -> list[ServiceChange]:
    """C2: open (True) or close (False) services of the school. The whole request is refused —
    nothing changes — if it asks to close a mandatory service, to open a service whose SIECLE
    module the school lacks, or names a service the academy does not offer. Closing keeps the
    service's settings (the row stays, closed)."""
    school = get_school(uow, uai, for_change=True)
    choices = {choice.code: choice for choice in service_choices(uow, uai)}
    for code, want_open in wanted.items():
        choice = choices.get(code)
        if choice is None:
            raise InvalidInput("Ce téléservice n'est pas proposé par l'académie.")
        if choice.unavailable_reason and want_open:
            raise InvalidInput(f"{choice.label} : {choice.unavailable_reason}")
        if choice.mandatory and not want_open:
            raise InvalidInput(f"Le téléservice {choice.label} est obligatoire : il reste ouvert.")
    now = now or utcnow()
    rows = {row.service_code: row for row in uow.session.scalars(
        select(SchoolService).where(SchoolService.school_uai == uai))}
    changes = []
    for code, want_open in wanted.items():
        choice = choices[code]
        if not choice.changeable or choice.is_open == want_open:
            continue
        row = rows.get(code)
        if row is None:
            row = SchoolService(school_uai=uai, service_code=code)
            uow.session.add(row)
        row.open, row.changed_at = want_open, now
        changes.append(ServiceChange(code, choice.label, want_open))
        if want_open:
            summary = f"Ouverture du téléservice {choice.label}"
        else:
            summary = f"Fermeture du téléservice {choice.label} (son paramétrage est conservé)"
        record(uow.session, actor, school_uai=uai, action="service.opened" if want_open else "service.closed",
               summary=summary, target=code, now=now)
    if changes:
        announce_settings(uow, school)
    uow.commit()
    return changes


def is_service_open(session, school: School, code: str) -> bool:
    return school.services_activated_at is not None and code in open_service_codes(session, school)


# --- C3: publication of marks --------------------------------------------------------------------

CONTINUOUS, DEADLINE = "continuous", "deadline"
PUBLICATION_LABELS = {CONTINUOUS: "au fil de l'eau", DEADLINE: "à échéance"}


class ServiceClosed(Conflict):
    """The settings of a service are reachable only while the service is open."""


class ConfirmationRequired(Conflict):
    """Going back to « au fil de l'eau » deletes the publication dates: staff confirm first."""

    def __init__(self, dates: int):
        super().__init__(f"Les {dates} date(s) de publication définie(s) seront supprimée(s).")
        self.dates = dates


@dataclass(frozen=True)
class PublicationDate:
    id: int
    day: date


@dataclass(frozen=True)
class MefDivision:
    """A line of the dates table: a MEF × division pair and its publication dates."""

    mef_code: str
    mef_label: str
    division: str
    dates: tuple[PublicationDate, ...]
    has_students: bool  # False: dates left over from students who moved since


@dataclass(frozen=True)
class NotesConfiguration:
    publication: str
    pairs: tuple[MefDivision, ...]

    @property
    def dates_count(self) -> int:
        return sum(len(pair.dates) for pair in self.pairs)


def _require_notes_open(uow: UnitOfWork, uai: str) -> School:
    school = get_school(uow, uai)
    if not is_service_open(uow.session, school, NOTES):
        raise ServiceClosed("Le téléservice Notes n'est pas ouvert : ouvrez-le d'abord dans « Ouverture / fermeture ».")
    return school


def _mef_labels(session, uai: str) -> dict[str, str]:
    return {mef.code: mef.short_label or mef.long_label or mef.code
            for mef in session.scalars(select(Mef).where(Mef.school_uai == uai))}


def _student_pairs(session, uai: str) -> set[tuple[str, str]]:
    """The MEF × division pairs of the school's students (those who have not left)."""
    return {(mef, division) for mef, division in session.execute(
        select(Student.mef_code, Student.division).where(
            Student.school_uai == uai, Student.departed_at.is_(None), Student.mef_code.is_not(None),
            Student.division.is_not(None)).distinct())}


def _settings(session, uai: str) -> NotesSettings:
    settings = session.get(NotesSettings, uai)
    if settings is None:
        settings = NotesSettings(school_uai=uai, publication=CONTINUOUS)
        session.add(settings)
    return settings


def notes_configuration(uow: UnitOfWork, uai: str) -> NotesConfiguration:
    _require_notes_open(uow, uai)
    settings = uow.session.get(NotesSettings, uai)
    labels = _mef_labels(uow.session, uai)
    pairs = _student_pairs(uow.session, uai)
    dates: dict[tuple[str, str], list[PublicationDate]] = {pair: [] for pair in pairs}
    for row in uow.session.scalars(select(NotesPublicationDate).where(NotesPublicationDate.school_uai == uai)
                                   .order_by(NotesPublicationDate.publication_date)):
        dates.setdefault((row.mef_code, row.division), []).append(PublicationDate(row.id, row.publication_date))
    lines = tuple(sorted(
        (MefDivision(mef, labels.get(mef, mef), division, tuple(days), (mef, division) in pairs)
         for (mef, division), days in dates.items()),
        key=lambda line: (line.mef_label.lower(), line.mef_code, line.division.lower())))
    return NotesConfiguration(settings.publication if settings else CONTINUOUS, lines)


def set_notes_publication(uow: UnitOfWork, actor: Actor, uai: str, publication: str, *,
                          confirmed: bool = False) -> bool:
    """C3: « au fil de l'eau » or « à échéance ». Going back to « au fil de l'eau » while dates
    exist raises ConfirmationRequired unless `confirmed`; then the dates are deleted. Returns
    whether anything changed."""
    if publication not in PUBLICATION_LABELS:
        raise InvalidInput(errors={"publication": "Choisissez la publication au fil de l'eau ou à échéance."})
    _require_notes_open(uow, uai)
    settings = _settings(uow.session, uai)
    if settings.publication == publication:
        uow.commit()  # the school's settings row, created at first use
        return False
    summary = f"Publication des notes {PUBLICATION_LABELS[publication]}"
    detail: dict[str, Any] = {"publication": publication}
    if publication == CONTINUOUS:
        dates = list(uow.session.scalars(select(NotesPublicationDate).where(NotesPublicationDate.school_uai == uai)))
        if dates and not confirmed:
            raise ConfirmationRequired(len(dates))
        if dates:
            for row in dates:
                uow.session.delete(row)
            summary += f" ({len(dates)} date(s) de publication supprimée(s))"
            detail["deleted_dates"] = len(dates)
    settings.publication = publication
    record(uow.session, actor, school_uai=uai, action="notes.publication_changed", summary=summary,
           target="notes", detail=detail)
    uow.commit()
    return True


def _pair_label(session, uai: str, mef_code: str, division: str) -> str:
    return f"{_mef_labels(session, uai).get(mef_code, mef_code)} × {division}"


def add_publication_date(uow: UnitOfWork, actor: Actor, uai: str, *, mef_code: str, division: str,
                         day: date) -> NotesPublicationDate:
    """C3 « à échéance »: one more publication date for a MEF × division of the school."""
    _require_notes_open(uow, uai)
    if _settings(uow.session, uai).publication != DEADLINE:
        raise InvalidInput("Les dates de publication ne servent qu'à la publication à échéance : "
                           "choisissez-la d'abord.")
    if (mef_code, division) not in _student_pairs(uow.session, uai):
        raise InvalidInput("Aucun élève de l'établissement n'est inscrit dans cette MEF et cette division.")
    if not 2000 <= day.year <= 2100:
        raise InvalidInput(errors={"day": "Cette date n'est pas plausible : vérifiez l'année."})
    pair = _pair_label(uow.session, uai, mef_code, division)
    exists = uow.session.scalar(select(NotesPublicationDate).where(
        NotesPublicationDate.school_uai == uai, NotesPublicationDate.mef_code == mef_code,
        NotesPublicationDate.division == division, NotesPublicationDate.publication_date == day))
    if exists is not None:
        raise InvalidInput(errors={"day": f"La date du {day:%d/%m/%Y} est déjà définie pour {pair}."})
    row = NotesPublicationDate(school_uai=uai, mef_code=mef_code, division=division, publication_date=day)
    uow.session.add(row)
    record(uow.session, actor, school_uai=uai, action="notes.date_added",
           summary=f"Publication des notes à échéance : {day:%d/%m/%Y} pour {pair}", target="notes",
           detail={"mef_code": mef_code, "division": division, "date": day.isoformat()})
    uow.commit()
    return row


def remove_publication_date(uow: UnitOfWork, actor: Actor, uai: str, date_id: int) -> NotesPublicationDate:
    row = uow.session.get(NotesPublicationDate, date_id)
    if row is None or row.school_uai != uai:  # first: another school's date does not exist here
        raise NotFound("Cette date de publication n'existe plus.")
    _require_notes_open(uow, uai)
    pair = _pair_label(uow.session, uai, row.mef_code, row.division)
    uow.session.delete(row)
    record(uow.session, actor, school_uai=uai, action="notes.date_removed",
           summary=f"Suppression de la date de publication des notes du {row.publication_date:%d/%m/%Y} pour {pair}",
           target="notes", detail={"mef_code": row.mef_code, "division": row.division,
                                   "date": row.publication_date.isoformat()})
    uow.commit()
    return row


# --- C4: online payment of invoices --------------------------------------------------------------

_AMOUNT = re.compile(r"^\d{1,8}(?:[.,]\d{1,2})?$")
_TIPI_NUMBER = re.compile(r"^[0-9A-Za-z]{1,20}$")


def parse_amount(text: str | None) -> Decimal:
    """A minimum amount in euros as staff type it: « 15 », « 15,50 » or « 15.50 » (≥ 0)."""
    value = (text or "").strip().replace(" ", "").replace("\u00a0", "").removesuffix("€").strip()
    if value.startswith("-"):
        raise InvalidInput("Le montant minimum ne peut pas être négatif.")
    if not _AMOUNT.match(value):
        raise InvalidInput("Saisissez un montant en euros, par exemple 15 ou 15,50 (deux décimales au plus).")
    try:
        return Decimal(value.replace(",", ".")).quantize(Decimal("0.01"))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise InvalidInput("Saisissez un montant en euros, par exemple 15,50.") from None


def french_amount(amount: Decimal) -> str:
    """« 15,50 € »."""
    return f"{amount:.2f}".replace(".", ",") + " €"


def normalise_tipi_number(number: str | None) -> str:
    number = (number or "").strip().replace(" ", "")
    if not _TIPI_NUMBER.match(number):
        raise InvalidInput("Le numéro client TIPI se compose de chiffres (et de lettres), 20 caractères au plus.")
    return number.upper()


class UnknownTipiClient(InvalidInput):
    pass


def find_tipi_client(uow: UnitOfWork, uai: str, number: str) -> TipiClient:
    """The reference entry of a TIPI client number for the school: its academy's list, or the
    national one (academy_code NULL). UnknownTipiClient otherwise."""
    school = get_school(uow, uai)
    number = normalise_tipi_number(number)
    client = uow.session.scalar(select(TipiClient).where(
        TipiClient.number == number,
        or_(TipiClient.academy_code == school.academy_code, TipiClient.academy_code.is_(None))))
    if client is None:
        raise UnknownTipiClient(f"Le numéro client TIPI {number} est inconnu du référentiel : vérifiez le numéro "
                                "fourni par la DDFiP. Rien n'a été enregistré.")
    return client


@dataclass(frozen=True)
class PaymentRequest:
    """C4 as typed, checked (the TIPI client found), before the staff member confirms."""

    tipi_client_number: str
    holder: str
    minimum_amount: Decimal
    contact_email: str


def check_payment(uow: UnitOfWork, uai: str, *, tipi_client_number: str, minimum_amount: str,
                  contact_email: str) -> PaymentRequest:
    """C4, step 1 (nothing is saved): each field checked, then the number looked up."""
    errors = {}
    try:
        amount = parse_amount(minimum_amount)
    except InvalidInput as error:
        errors["minimum_amount"] = str(error)
    email = (contact_email or "").strip()
    if not is_valid_email(email) or len(email) > MAX_EMAIL_LENGTH:
        errors["contact_email"] = "Saisissez une adresse électronique valide, par exemple intendance@college.fr."
    try:
        client = find_tipi_client(uow, uai, tipi_client_number)
    except InvalidInput as error:
        errors["tipi_client_number"] = str(error)
    if errors:
        raise InvalidInput(errors=errors)
    return PaymentRequest(client.number, client.holder, amount, email)


def save_payment(uow: UnitOfWork, actor: Actor, uai: str, *, tipi_client_number: str, minimum_amount: str,
                 contact_email: str, now: datetime | None = None) -> PaymentSettings:
    """C4, once the staff member confirmed the TIPI client's identity: checked again, then saved."""
    request = check_payment(uow, uai, tipi_client_number=tipi_client_number, minimum_amount=minimum_amount,
                            contact_email=contact_email)
    now = now or utcnow()
    settings = uow.session.get(PaymentSettings, uai)
    if settings is None:
        settings = PaymentSettings(school_uai=uai)
        uow.session.add(settings)
    settings.tipi_client_number = request.tipi_client_number
    settings.minimum_amount = request.minimum_amount
    settings.contact_email = request.contact_email
    settings.confirmed_at, settings.confirmed_by = now, actor.login
    record(uow.session, actor, school_uai=uai, action="payment.configured", target=PAYMENT, now=now,
           summary=(f"Paiement en ligne des factures : client TIPI {request.tipi_client_number} ({request.holder}), "
                    f"montant minimum {french_amount(request.minimum_amount)}, contact {request.contact_email}"),
           detail={"tipi_client_number": request.tipi_client_number, "minimum_amount": str(request.minimum_amount),
                   "contact_email": request.contact_email})
    uow.commit()
    return settings


@dataclass(frozen=True)
class PaymentConfiguration:
    settings: PaymentSettings | None
    holder: str | None
    service_open: bool


def payment_configuration(uow: UnitOfWork, uai: str) -> PaymentConfiguration:
    school = get_school(uow, uai)
    settings = uow.session.get(PaymentSettings, uai)
    holder = None
    if settings is not None:
        client = uow.session.get(TipiClient, settings.tipi_client_number)
        holder = client.holder if client else None
    return PaymentConfiguration(settings, holder, is_service_open(uow.session, school, PAYMENT))
