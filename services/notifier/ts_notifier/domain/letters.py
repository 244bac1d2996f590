"""The notification letters (D2, D3, B8, B9) as the school sees them: the parts it may edit (one
header, one body per letter case), the fields those parts may insert, and what each field says
for a given school and recipient. No Flask, no database, no PDF here.

Seeds: 002 §4.4 and §5.3, 003 §3.2–§3.2.2 (header, bodies per case, CNIL mention, refusal coupon),
004 (QR code, first connection)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import escape

from ts_shared.calendar import french_date
from ts_shared.messaging.events import LETTER_CASES

HEADER = "header"
PARTS = (HEADER, *LETTER_CASES)
PART_LABELS = {
    HEADER: "En-tête (tous les courriers)",
    "guardian_new": "Responsable – compte nouveau ou non activé",
    "guardian_activating": "Responsable – activation en cours (nouveau mot de passe)",
    "guardian_used_new_password": "Responsable – compte utilisé, nouveau mot de passe",
    "guardian_used_reminder": "Responsable – compte utilisé, rappel de l'identifiant",
    "guardian_continuity": "Responsable – continuité d'accès",
    "student_new": "Élève – compte nouveau ou non activé",
    "student_used_new_password": "Élève – compte utilisé, nouveau mot de passe",
    "student_used_reminder": "Élève – compte utilisé, rappel de l'identifiant",
    "student_continuity": "Élève – continuité d'accès",
}
# The cases whose letter gives a temporary password (the others only remind the login, B8).
CASES_WITH_PASSWORD = frozenset({"guardian_new", "guardian_activating", "guardian_used_new_password", "student_new",
                                 "student_used_new_password"})
CONTINUITY_CASES = frozenset({"guardian_continuity", "student_continuity"})

GUARDIANS, STUDENTS = "responsable", "eleve"


def audience(letter_case: str) -> str:
    return GUARDIANS if letter_case.startswith("guardian_") else STUDENTS


OBJECTS = {
    GUARDIANS: "mise à disposition de services en ligne pour suivre la scolarité de votre enfant",
    STUDENTS: "mise à disposition de services en ligne",
}

# --- the fields a part may insert ------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    name: str
    label: str
    condition_only: bool = False  # a yes/no value, for {% if … %}


FIELDS = (
    Field("etablissement", "Nom de l'établissement"),
    Field("academie", "Académie (« Académie de … »)"),
    Field("adresse_etablissement", "Adresse postale de l'établissement (plusieurs lignes)"),
    Field("telephone_etablissement", "Téléphone de l'établissement (vide s'il n'est pas connu)"),
    Field("ville", "Ville de l'établissement, pour « <ville>, le <date> »"),
    Field("date", "Date du courrier (jj/mm/aaaa)"),
    Field("chef_etablissement", "Nom du chef d'établissement (vide s'il n'est pas connu)"),
    Field("objet", "Objet du courrier (celui des responsables ou celui des élèves)"),
    Field("destinataire", "Civilité, prénom et nom du destinataire"),
    Field("formule_appel", "« Madame », « Monsieur » ou « Madame, Monsieur » (vide dans les courriers des élèves)"),
    Field("adresse_destinataire", "Adresse postale du destinataire (plusieurs lignes)"),
    Field("eleve", "Prénom et nom de l'élève"),
    Field("prenom_eleve", "Prénom de l'élève"),
    Field("division", "Division (classe) de l'élève"),
    Field("identifiant", "Identifiant du compte"),
    Field("mot_de_passe", "Mot de passe provisoire (vide quand le courrier rappelle seulement l'identifiant)"),
    Field("adresse_portail", "Adresse internet des services (« Scolarité services » ou l'ENT, selon le type de "
                             "courrier choisi dans « ENT et courrier de notification »)"),
    Field("date_acces", "Date à partir de laquelle le compte est utilisable (le lendemain en cas de continuité "
                        "d'accès, sinon la date du courrier)"),
    Field("services", "Liste des services ouverts par l'établissement"),
    Field("premiere_connexion", "Étapes de la première connexion"),
    Field("continuite", "Vrai quand le compte est conservé d'un établissement précédent de l'académie",
          condition_only=True),
    Field("coupon_refus", "Coupon de refus d'accès, imprimé au bas de la page (courriers papier des responsables)"),
    Field("mention_cnil", "Mention relative à la protection des données (obligatoire dans chaque corps de "
                          "courrier)"),
)
FIELD_NAMES = frozenset(field.name for field in FIELDS)
CNIL_FIELD = "mention_cnil"

# Classes a part may put on its blocks (the letters' stylesheet gives them their look). The three
# header blocks are placed on the page: school top left, place and date top right, and the
# recipient in the window of the envelope.
HEADER_ZONES = ("expediteur", "lieu-date", "destinataire")
LETTER_CLASSES = (*HEADER_ZONES, "objet", "adresse-portail", "identifiants", "services", "etapes", "signature",
                  "encadre", "petit", "note", "centre", "droite")

# --- page geometry (A4, millimetres from the top-left corner of the sheet) --------------------------
# The recipient's block sits in the window of the usual French window envelopes: DL 110 × 220
# (A4 folded in three) and C5 162 × 229 (A4 folded in two), window 45 × 100 mm at 20 mm from the
# right edge, whose top is 50 mm below the top of the envelope. Allowing for the sheet sliding in
# the envelope, the block stays within 52–84 mm from the top and 110–190 mm from the left.
PAGE_HEIGHT_MM = 297  # A4 portrait, 210 mm wide
LEFT_MM, CONTENT_WIDTH_MM = 20, 175
WINDOW = {"left": 110, "top": 52, "width": 80, "height": 32}
SENDER = {"left": LEFT_MM, "top": 12, "width": 85, "height": 42}
PLACE_DATE = {"left": 110, "top": 12, "width": 85, "height": 30}
QR_CODE = {"left": LEFT_MM, "top": 57, "width": 30, "height": 31}
BODY_TOP_MM = 92
COUPON_HEIGHT_MM = 46
BOTTOM_MARGIN_MM = 8

# --- services (C2) and the URL letters give (D2) ------------------------------------------------------
SERVICE_LABELS = {
    "vie_scolaire": "Vie scolaire",
    "notes": "Notes",
    "lsl": "Livret scolaire du lycée",
    "fiche_renseignements": "Fiche de renseignements",
    "paiement": "Paiement en ligne des factures",
    "lsun": "Livret scolaire du CP à la 3e",
    "folios": "Folios",
}
ENT_LABEL = "Espace numérique de travail (ENT)"


@dataclass(frozen=True)
class SchoolIdentity:
    """What letters print about the school (the notifier's read model, as plain values)."""

    uai: str
    name: str
    academy_code: str
    academy_name: str | None
    letter_type: str
    ent_url: str | None
    open_services: tuple[str, ...]
    service_labels: dict[str, str]
    address_lines: tuple[str, ...]
    phone: str | None
    city: str | None
    head_name: str | None


def letter_url(school: SchoolIdentity, public_url: str) -> str:
    """D2: « Téléservices » and « Mixte » letters give the portal's address, « ENT seul » the ENT's
    (the portal's when no ENT address is known, rather than none)."""
    if school.letter_type == "ent_only" and school.ent_url:
        return school.ent_url
    return public_url.rstrip("/") + "/"


def service_labels(school: SchoolIdentity) -> list[str]:
    """D2/C2: the open services for « Téléservices », the same and the ENT for « Mixte », the ENT
    alone for « ENT seul ». An academy service whose label is unknown is shown by its code."""
    if school.letter_type == "ent_only":
        return [ENT_LABEL]
    labels = [SERVICE_LABELS.get(code) or school.service_labels.get(code) or code for code in school.open_services]
    if school.letter_type == "mixed":
        labels.append(ENT_LABEL)
    return labels


_POSTAL_LINE = re.compile(r"^\s*\d{5}\s+(?P<city>.+?)\s*(?:cedex.*)?$", re.IGNORECASE)


def school_city(school: SchoolIdentity) -> str:
    """The city of « <ville>, le <date> »: the one announced, else the one of the last address line
    (« 54000 NANCY »), else nothing."""
    if school.city:
        return school.city
    for line in reversed(school.address_lines):
        match = _POSTAL_LINE.match(line or "")
        if match:
            return match.group("city").strip()
    return ""


def academy_label(school: SchoolIdentity) -> str:
    return school.academy_name or school.academy_code


# --- recipients --------------------------------------------------------------------------------------

_CIVILITIES = {"M": "Monsieur", "M.": "Monsieur", "MR": "Monsieur", "MONSIEUR": "Monsieur", "MME": "Madame",
               "MME.": "Madame", "MADAME": "Madame", "MLLE": "Madame", "MADEMOISELLE": "Madame"}


def civility_word(civility: str | None) -> str:
    """SIECLE civilities (« M. », « MME ») as letters write them."""
    if not civility or not civility.strip():
        return ""
    return _CIVILITIES.get(civility.strip().upper(), civility.strip())


def full_name(first_name: str | None, last_name: str | None) -> str:
    """« Camille MARTIN »: the last name in capitals, as on an envelope."""
    return " ".join(part for part in ((first_name or "").strip(), (last_name or "").strip().upper()) if part)


def recipient_name(recipient: dict, *, with_civility: bool) -> str:
    name = full_name(recipient.get("first_name"), recipient.get("last_name"))
    civility = civility_word(recipient.get("civility")) if with_civility else ""
    return f"{civility} {name}".strip()


def salutation(recipient: dict) -> str:
    return civility_word(recipient.get("civility")) if civility_word(recipient.get("civility")) in (
        "Madame", "Monsieur") else "Madame, Monsieur"


def postal_lines(recipient: dict) -> list[str]:
    """The recipient's address as it goes in the window (at most 6 lines, AFNOR NF Z 10-011): the
    street lines, then « CODE VILLE » in capitals, then the country when it is not France."""
    address = recipient.get("address") or {}
    lines = [line.strip() for line in address.get("lines") or () if line and line.strip()]
    last = " ".join(part for part in ((address.get("postal_code") or "").strip(),
                                      (address.get("city") or "").strip().upper()) if part)
    if last:
        lines.append(last)
    country = (address.get("country") or "").strip()
    if country and country.upper() not in ("FRANCE", "FR", "FRA", "100"):
        lines.append(country.upper())
    return lines[:6]


def access_date(letter_case: str, on: date, kept_from_previous_school: bool) -> date:
    """003 §3.2.1: access continuity is effective the next day; other accounts at once."""
    return on + timedelta(days=1) if kept_from_previous_school or letter_case in CONTINUITY_CASES else on


def letter_values(letter_case: str, recipient: dict, student: dict, *, login: str, temporary_password: str | None,
                  kept_from_previous_school: bool, on: date) -> dict[str, object]:
    """The plain-text fields of one letter (those that depend on the recipient)."""
    guardian = audience(letter_case) == GUARDIANS
    student_name = full_name(student.get("first_name"), student.get("last_name"))
    return {
        "objet": OBJECTS[audience(letter_case)],
        "destinataire": recipient_name(recipient, with_civility=guardian),
        "formule_appel": salutation(recipient) if guardian else "",
        "eleve": student_name,
        "prenom_eleve": (student.get("first_name") or "").strip(),
        "division": (student.get("division") or "").strip(),
        "identifiant": login,
        "mot_de_passe": temporary_password or "",
        "date_acces": french_date(access_date(letter_case, on, kept_from_previous_school)),
        "continuite": bool(kept_from_previous_school or letter_case in CONTINUITY_CASES),
    }


# --- French elision: « responsable d'Alexandre », never « de Alexandre » --------------------------------

ELIDED_FIELDS = ("eleve", "prenom_eleve", "destinataire", "etablissement")
_VOWEL_SOUND = re.compile(r"[aeiouàâäéèêëîïôöùûüœæh]|y[^aeiouàâäéèêëîïôöùûü]", re.IGNORECASE)
_ELIDABLE = {"de": "d'", "De": "D'", "que": "qu'", "Que": "Qu'", "le": "l'", "Le": "L'", "la": "l'", "La": "L'"}


def elide(html: str, values: dict) -> str:
    """`html` (a rendered letter part) with « de », « que », « le », « la » elided before a name
    given in `values` that begins with a vowel sound (a vowel, a mute h, Y before a consonant):
    « de {{ eleve }} » gives « d'Alexandre », « d'Hélène », « d'Yves » — « de Yann », « de Léa »."""
    for name in ELIDED_FIELDS:
        value = values.get(name)
        if not isinstance(value, str) or not _VOWEL_SOUND.match(value.strip()):
            continue
        shown = re.escape(str(escape(value.strip())))
        html = re.sub(r"(?<![\w’'])(de|De|que|Que|le|Le|la|La)\s+((?:<[^>]*>)*)(?=" + shown + ")",
                      lambda match: _ELIDABLE[match.group(1)] + match.group(2), html)
    return html


# --- the fictitious family of previews -----------------------------------------------------------------

SAMPLE_GUARDIAN = {"civility": "MME", "last_name": "Exemple", "first_name": "Camille", "email": "camille@example.org",
                   "address": {"lines": ["12 rue des Lilas", "Bâtiment B"], "postal_code": "54000", "city": "Nancy",
                               "country": None}}
SAMPLE_STUDENT = {"student_id": "0", "last_name": "Exemple", "first_name": "Léa", "birth_date": date(2013, 3, 14),
                  "division": "4A"}
SAMPLE_STUDENT_RECIPIENT = {"civility": None, "last_name": "Exemple", "first_name": "Léa", "email": None,
                            "address": SAMPLE_GUARDIAN["address"]}
SAMPLE_LOGINS = {GUARDIANS: "camille.exemple", STUDENTS: "lea.exemple"}
SAMPLE_PASSWORD = "K7MPR2QX"
