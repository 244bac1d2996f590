"""Synthetic school populations written in the SIECLE "BEE" XML export formats (and our CSV).

Used by the tests, by the embedded demo (bundled files in `demo/siecle/`) and by the import
benchmark. Everything is fictitious but shaped like real exports, including the awkward cases an
importer meets in practice: accented, hyphenated and particle names, apostrophes, homonyms,
siblings sharing guardians, duplicate guardian records, missing or malformed emails, legal-rank-0
contacts, departed students, adult students, guardians living abroad.

Determinism: a population is a pure function of (uai, n_students, seed, school_year, kind). It is
cut into fixed-size batches of consecutive students, each generated from its own seeded RNG, so
any batch can be regenerated on its own and the writers can stream 100,000 students with flat
memory (several passes regenerate the batches instead of keeping them).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache, cached_property
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

DEFAULT_ENCODING = "ISO-8859-15"  # what SIECLE really produces
ID_STYLES = ("attribute", "element")
KINDS = ("college", "lycee")

EXPORT_FILES = {
    "students": "ElevesSansAdresses.xml",
    "guardians": "ResponsablesAvecAdresses.xml",
    "nomenclatures": "Nomenclature.xml",
    "structures": "Structures.xml",
}
CSV_FILE = "eleves.csv"

CSV_HEADER = (
    "eleve_id;nom;nom_usage;prenom;date_naissance;sexe;code_mef;libelle_mef;division;groupes;ine;"
    "resp1_id;resp1_civilite;resp1_nom;resp1_prenom;resp1_mel;resp1_tel_portable;resp1_adresse;"
    "resp1_code_postal;resp1_commune;resp1_pays;"
    "resp2_id;resp2_civilite;resp2_nom;resp2_prenom;resp2_mel;resp2_tel_portable;resp2_adresse;"
    "resp2_code_postal;resp2_commune;resp2_pays"
).split(";")

# SIECLE "lien de parenté" codes (CODE_PARENTE). Only 10/20/50/38/90 are generated.
RELATIONSHIP_LABELS = {
    "10": "MERE",
    "20": "PERE",
    "37": "FRATRIE",
    "38": "ASCENDANT",
    "39": "AUTRE MEMBRE DE LA FAMILLE",
    "41": "EDUCATEUR",
    "42": "ASSISTANT FAMILIAL",
    "50": "TUTEUR",
    "51": "AIDE SOCIALE A L'ENFANCE",
    "70": "ELEVE",
    "90": "AUTRE LIEN",
}

# Element names written for the guardian links (the importer also accepts PERS_CONTACT, the name
# some real exports use).
TAG_CONTACT = "PERSONNE_CONTACT"
TAG_PAYMENT = "PERS_PAIEMENT"


# --------------------------------------------------------------------------------------------
# The population
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyntheticStudent:
    siecle_id: str  # ELEVE_ID
    elenoet: str
    national_id: str  # INE: 10 digits + 1 letter
    last_name: str
    usage_name: str  # "" when absent
    first_name: str
    first_name_2: str
    first_name_3: str
    birth_date: date
    sex: str  # "1" boy, "2" girl
    mef_code: str
    division: str
    groups: list[str]
    entry_date: date
    left_on: date | None  # DATE_SORTIE: a departed student

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


@dataclass(frozen=True, slots=True)
class SyntheticGuardian:
    siecle_id: str  # PERSONNE_ID
    civility: str  # "M." or "MME"
    last_name: str
    first_name: str
    email: str | None  # may be deliberately malformed
    phone_home: str | None
    phone_mobile: str | None
    phone_work: str | None
    address_id: str
    address_line1: str
    address_line2: str
    address_line3: str
    address_line4: str
    postal_code: str  # "" abroad
    city: str  # LIBELLE_POSTAL; "" abroad
    country: str  # LL_PAYS
    foreign_city: str  # COMMUNE_ETRANGERE, abroad only

    @property
    def address_lines(self) -> list[str]:
        lines = (self.address_line1, self.address_line2, self.address_line3, self.address_line4)
        return [line for line in lines if line]

    @property
    def lives_abroad(self) -> bool:
        return self.country != "FRANCE"


@dataclass(frozen=True, slots=True)
class SyntheticLink:
    student_id: str
    guardian_id: str
    legal_rank: int  # 1, 2, or 0 for a mere contact (who gets no account)
    relationship_code: str
    is_contact: bool


@dataclass(frozen=True, slots=True)
class SyntheticMef:
    code: str
    short_label: str
    long_label: str
    edition_label: str
    attached_mef: str
    mefstat: str  # MEFSTAT4, e.g. "1031"


@dataclass(frozen=True, slots=True)
class SyntheticDivision:
    code: str
    label: str
    mef_code: str


@dataclass(frozen=True, slots=True)
class SyntheticGroup:
    code: str
    label: str
    division_codes: list[str]


@dataclass(frozen=True, slots=True)
class SyntheticBatch:
    """Consecutive students with their whole families: the unit of lazy generation."""

    students: list[SyntheticStudent]
    guardians: list[SyntheticGuardian]
    links: list[SyntheticLink]


@dataclass(frozen=True, slots=True)
class _Level:
    rank: int  # 0 = first year of the school
    tag: str  # level mark used in group codes: "6".."3", "2", "1", "T"
    mef: SyntheticMef
    base_age: int  # age reached during the civil year of the rentrée, when on time
    division_codes: list[str]


@dataclass(eq=False)
class SyntheticSchool:
    """A school's population. Cheap to create: students and families are generated on demand.

    `students`, `guardians` and `links` materialise everything (fine for tests and the demo);
    the writers go through `batches()` so that big schools stream.
    """

    uai: str
    school_year: int  # 2026 means 2026-2027
    export_date: date
    export_time: str  # HH:MM:SS of HORODATAGE
    kind: str
    seed: int
    n_students: int
    mefs: list[SyntheticMef]
    divisions: list[SyntheticDivision]
    groups: list[SyntheticGroup]
    levels: list[_Level] = field(repr=False)

    def batches(self) -> Iterator[SyntheticBatch]:
        for index in range((self.n_students + BATCH_SIZE - 1) // BATCH_SIZE):
            yield _BatchBuilder(self, index).build()

    def iter_students(self) -> Iterator[SyntheticStudent]:
        for batch in self.batches():
            yield from batch.students

    def iter_guardians(self) -> Iterator[SyntheticGuardian]:
        for batch in self.batches():
            yield from batch.guardians

    def iter_links(self) -> Iterator[SyntheticLink]:
        for batch in self.batches():
            yield from batch.links

    @cached_property
    def _materialised(self) -> SyntheticBatch:
        students: list[SyntheticStudent] = []
        guardians: list[SyntheticGuardian] = []
        links: list[SyntheticLink] = []
        for batch in self.batches():
            students += batch.students
            guardians += batch.guardians
            links += batch.links
        return SyntheticBatch(students, guardians, links)

    @property
    def students(self) -> list[SyntheticStudent]:
        return self._materialised.students

    @property
    def guardians(self) -> list[SyntheticGuardian]:
        return self._materialised.guardians

    @property
    def links(self) -> list[SyntheticLink]:
        return self._materialised.links

    def mef(self, code: str) -> SyntheticMef:
        return next(mef for mef in self.mefs if mef.code == code)


# --------------------------------------------------------------------------------------------
# Reference lists (every string must be representable in ISO-8859-15: see the tests)
# --------------------------------------------------------------------------------------------

BOYS = (
    "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Raphaël", "Adam", "Maël", "Nathan",
    "Léo", "Enzo", "Tom", "Théo", "Noah", "Ethan", "Mathis", "Timéo", "Sacha", "Paul", "Nolan",
    "Clément", "Baptiste", "Maxime", "Antoine", "Alexandre", "Victor", "Axel", "Mathéo", "Evan",
    "Valentin", "Quentin", "Thomas", "Samuel", "Noé", "Eliott", "Gaspard", "Jean-Baptiste",
    "Pierre-Louis", "Loïc", "Yanis", "Ilyès", "Rayan", "Mohamed", "Kylian", "Timothée", "Aurélien",
    "Jérémy", "Matthieu", "Gaëtan",
)
GIRLS = (
    "Emma", "Jade", "Louise", "Alice", "Chloé", "Léa", "Manon", "Inès", "Lina", "Léna", "Camille",
    "Zoé", "Sarah", "Clara", "Juliette", "Lola", "Anaïs", "Noémie", "Éloïse", "Héloïse", "Maëlys",
    "Océane", "Lucie", "Margaux", "Jeanne", "Romane", "Ambre", "Agathe", "Mathilde", "Pauline",
    "Célia", "Elsa", "Nina", "Rose", "Anna", "Eva", "Maëlle", "Gaëlle", "Justine", "Marie-Ève",
    "Anne-Sophie", "Clémence", "Salomé", "Capucine", "Aïcha", "Yasmine", "Fatoumata", "Mélissa",
    "Bérénice", "Joséphine", "Apolline",
)
MEN = (
    "Jean", "Jérôme", "Stéphane", "Sébastien", "Nicolas", "Christophe", "Frédéric", "Laurent",
    "Olivier", "David", "Julien", "Cédric", "Grégory", "Franck", "Thierry", "Philippe", "Pascal",
    "Éric", "Fabrice", "Hervé", "Yannick", "Karim", "Mamadou", "Jean-François", "Jean-Luc",
    "Jean-Marc", "Pierre-Yves", "François", "Benoît", "Loïc", "Mickaël", "Anthony", "Guillaume",
    "Vincent", "Arnaud", "Rémi", "Joël", "Noël",
)
WOMEN = (
    "Françoise", "Bénédicte", "Nathalie", "Sandrine", "Céline", "Stéphanie", "Isabelle", "Sophie",
    "Valérie", "Véronique", "Virginie", "Aurélie", "Émilie", "Caroline", "Delphine", "Karine",
    "Laëtitia", "Hélène", "Sylvie", "Christelle", "Élodie", "Séverine", "Agnès", "Cécile",
    "Marie-Claire", "Anne-Laure", "Marie-Hélène", "Gaëlle", "Chloé", "Anaïs", "Noémie", "Fatima",
    "Aminata", "Nadège", "Mélanie", "Brigitte", "Zoë", "Héloïse",
)
# Frequent names first: they get a higher weight, so homonyms happen naturally.
COMMON_LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Schmitt", "Meyer", "Klein",
)
LAST_NAMES = COMMON_LAST_NAMES + (
    "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier",
    "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément", "Morin", "Nicolas",
    "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont",
    "Marie", "Lemaire", "Noël", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud", "Joly",
    "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard", "Roche",
    "Renard", "Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert",
    "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier", "Philippe", "Bourgeois", "Pierre",
    "Benoît", "Rey", "Leclerc", "Payet", "Rolland", "Leclercq", "Guillaume", "Lecomte", "Lopez",
    "Jean", "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin",
    "Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Jacquet",
    "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles", "Renault",
    "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé", "Schneider",
    "Fernandez", "Collet", "Léger", "Bouvier", "Julien", "Prévost", "Millet", "Perrot", "Daniel",
    "Cousin", "Germain", "Breton", "Besson", "Langlois", "Rémy", "Pelletier", "Lévêque",
    "Perrier", "Leblanc", "Barré", "Lebrun", "Marchal", "Weber", "Mallet", "Hamon", "Boulanger",
    "Jacob", "Monnier", "Michaud", "Rodriguez", "Guichard", "Gillet", "Étienne", "Poulain",
    "Tessier", "Chevallier", "Collin", "Chauvin", "Bouchet", "Lemaître", "Bénard", "Maréchal",
    "Humbert", "Reynaud", "Antoine", "Perret", "Barthélemy", "Cordier", "Pichon", "Lejeune",
    "Gilbert", "Lamy", "Delaunay", "Pasquier", "Carlier", "Laporte", "Hébert", "Thiébaut",
    "Grosjean", "Kieffer", "Dieudonné", "Cœuret", "Müller", "Diallo", "Traoré", "Nguyen",
    "Haddad", "Kowalski",
    # the tricky ones: particles, apostrophes, hyphens, several words
    "N'Diaye", "D'Almeida", "L'Hôte", "D'Angelo", "Le Floc'h", "Martin-Lefèvre", "Saint-Martin",
    "de La Tour", "Du Pont", "de Saint-Exupéry", "Van der Berg", "Le Gall", "Le Goff", "Le Roux",
    "Le Bihan", "Da Silva", "Dos Santos", "De Oliveira", "Ben Ali",
)
LAST_NAME_WEIGHTS = tuple(accumulate(4 if name in COMMON_LAST_NAMES else 1 for name in LAST_NAMES))

# (LIBELLE_POSTAL as La Poste writes it, postal code, department): around Nancy, like the demo.
CITIES = (
    ("NANCY", "54000", "054"), ("NANCY", "54100", "054"), ("VANDOEUVRE LES NANCY", "54500", "054"),
    ("VILLERS LES NANCY", "54600", "054"), ("LAXOU", "54520", "054"), ("MAXEVILLE", "54320", "054"),
    ("MALZEVILLE", "54220", "054"), ("ESSEY LES NANCY", "54270", "054"), ("SAINT MAX", "54130", "054"),
    ("TOMBLAINE", "54510", "054"), ("JARVILLE LA MALGRANGE", "54140", "054"),
    ("HEILLECOURT", "54180", "054"), ("LUDRES", "54710", "054"), ("PULNOY", "54425", "054"),
    ("SEICHAMPS", "54280", "054"), ("CHAMPIGNEULLES", "54250", "054"), ("FROUARD", "54390", "054"),
    ("LUNEVILLE", "54300", "054"), ("PONT A MOUSSON", "54700", "054"), ("TOUL", "54200", "054"),
    ("METZ", "57000", "057"), ("EPINAL", "88000", "088"),
)
DEPARTMENTS = {postal_code: department for _, postal_code, department in CITIES}
STREETS = (
    "rue Saint-Dizier", "rue des Jardiniers", "avenue du Général-Leclerc", "rue de l'Église",
    "place Stanislas", "rue Émile-Zola", "boulevard Albert-Ier", "rue de la Hache", "rue des Tiercelins",
    "avenue de Boufflers", "rue Jeanne-d'Arc", "rue du Maréchal-Oudinot", "allée des Érables",
    "rue de Verdun", "chemin des Vignes", "rue Victor-Hugo", "impasse des Lilas", "rue Pasteur",
    "rue du Général-de-Gaulle", "rue de la Côte", "rue Charles-III", "rue Sainte-Anne",
    "boulevard Lobau", "rue de Laxou", "rue Mazagran", "quai Claude-le-Lorrain", "rue d'Auxonne",
)
COMPLEMENTS = (
    "Appartement 12", "Bâtiment B", "Résidence Les Tilleuls", "Escalier 3, 2e étage",
    "Chez M. et Mme Grosjean", "Résidence du Parc, appt 24", "Porte 5", "Logement 107",
)
# (LL_PAYS, COMMUNE_ETRANGERE, street line, phone): abroad addresses, Lorraine-style.
ABROAD = (
    ("BELGIQUE", "1000 BRUXELLES", "Rue Royale 45", "+32 2 512 34 56"),
    ("LUXEMBOURG", "L-1470 LUXEMBOURG", "7, route d'Esch", "+352 26 12 34 56"),
    ("ALLEMAGNE", "66111 SAARBRÜCKEN", "Bahnhofstraße 12", "+49 681 123456"),
    ("SUISSE", "1201 GENÈVE", "Rue de Lausanne 18", "+41 22 731 12 34"),
    ("ESPAGNE", "28013 MADRID", "Calle Mayor 10", "+34 915 22 33 44"),
    ("MAROC", "20000 CASABLANCA", "12, boulevard Zerktouni", "+212 522 12 34 56"),
    ("CANADA", "MONTRÉAL QC H2X 1Y4", "350, rue Sherbrooke Est", "+1 514 555 0123"),
)
EMAIL_DOMAINS = (
    "gmail.com", "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "hotmail.fr",
    "yahoo.fr", "outlook.fr", "icloud.com", "neuf.fr",
)
EMAIL_DOMAIN_WEIGHTS = tuple(accumulate((30, 18, 12, 8, 6, 6, 8, 5, 4, 2, 1)))
# (CODE_PROFESSION, LC_PROFESSION): ignored by the importer, present for realism.
PROFESSIONS = (
    ("23", "Chef d'entreprise de 10 salariés ou plus"), ("33", "Cadre de la fonction publique"),
    ("34", "Professeur, profession scientifique"), ("43", "Profession intermédiaire santé, travail social"),
    ("46", "Profession intermédiaire administrative et commerciale"), ("47", "Technicien"),
    ("52", "Employé civil, agent de service fonction publique"), ("54", "Employé administratif d'entreprise"),
    ("55", "Employé de commerce"), ("56", "Personnel des services directs aux particuliers"),
    ("62", "Ouvrier qualifié de type industriel"), ("69", "Ouvrier agricole"),
    ("81", "Chômeur n'ayant jamais travaillé"),
    ("99", "Non renseignée (inconnue ou sans objet)"),
)
# A few "matières" of Nomenclature.xml: ignored by the importer.
SUBJECTS = (
    ("020700", "FRANC", "FRANCAIS"), ("061300", "MATHS", "MATHEMATIQUES"),
    ("030201", "AGL1", "ANGLAIS LV1"), ("030102", "ALL2", "ALLEMAND LV2"),
    ("030602", "ESP2", "ESPAGNOL LV2"), ("040600", "H-GEO", "HISTOIRE-GEOGRAPHIE"),
    ("020100", "LCALA", "LCA LATIN"), ("100100", "EPS", "EDUCATION PHYSIQUE ET SPORT."),
)

COLLEGE_MEFS = (
    SyntheticMef("10010012110", "6EME", "6EME", "6ème", "10010012110", "1001"),
    SyntheticMef("10110001110", "5EME", "5EME", "5ème", "10110001110", "1011"),
    SyntheticMef("10210001110", "4EME", "4EME", "4ème", "10210001110", "1021"),
    SyntheticMef("10310019110", "3EME", "3EME", "3ème", "10310019110", "1031"),
)
LYCEE_MEFS = (
    SyntheticMef("20010018110", "2NDE", "2NDE GENERALE & TECHNO.", "Seconde générale et technologique",
                 "20010018110", "2001"),
    SyntheticMef("20110019110", "1ERE G", "1ERE GENERALE", "Première générale", "20110019110", "2011"),
    SyntheticMef("20210019110", "TLE G", "TERMINALE GENERALE", "Terminale générale", "20210019110", "2021"),
)
LEVEL_TAGS = {"college": ("6", "5", "4", "3"), "lycee": ("2", "1", "T")}
LYCEE_DIVISION_PREFIXES = {"2": "2DE", "1": "1G", "T": "TG"}
DIVISION_LABELS = {
    "6": "Sixième", "5": "Cinquième", "4": "Quatrième", "3": "Troisième",
    "2": "Seconde", "1": "Première générale", "T": "Terminale générale",
}
LV2 = (("ESP", "Espagnol", 58), ("ALL", "Allemand", 35), ("ITA", "Italien", 7))
SPECIALITIES = (
    ("MA", "mathématiques", 30), ("PC", "physique-chimie", 22), ("SVT", "SVT", 20),
    ("SES", "SES", 16), ("HGG", "HGGSP", 12), ("HLP", "humanités, littérature et philosophie", 6),
    ("LLC", "LLCER anglais", 8), ("NSI", "NSI", 6),
)
LV2_CODES, SPECIALITY_CODES = tuple(c for c, _, _ in LV2), tuple(c for c, _, _ in SPECIALITIES)
LV2_WEIGHTS = tuple(accumulate(w for _, _, w in LV2))
SPECIALITY_WEIGHTS = tuple(accumulate(w for _, _, w in SPECIALITIES))

BATCH_SIZE = 240  # students per independently seeded batch (a multiple of 3 and 4)
MAX_PERSONS_PER_STUDENT = 4  # a family of k children has at most k + 2 person records
DIVISION_SIZE = 30
_ID_SPAN = 9_000_000  # 7-digit SIECLE-like ids: 1000000..9999999
_INE_SPAN = 10_000_000_000
_INE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def generate_school(
    uai: str, n_students: int, *, seed: int = 0, school_year: int = 2026, kind: str = "college"
) -> SyntheticSchool:
    """The (lazily generated) population of one school; the same arguments give the same school."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not 0 <= n_students <= _ID_SPAN // MAX_PERSONS_PER_STUDENT:
        raise ValueError(f"n_students out of range: {n_students}")
    mefs = list(COLLEGE_MEFS if kind == "college" else LYCEE_MEFS)
    tags = LEVEL_TAGS[kind]
    levels: list[_Level] = []
    divisions: list[SyntheticDivision] = []
    groups: list[SyntheticGroup] = []
    for rank, (tag, mef) in enumerate(zip(tags, mefs, strict=True)):
        # Student i belongs to level i % L: consecutive students (siblings) land in different years.
        in_level = (n_students - rank + len(tags) - 1) // len(tags)
        count = max(1, -(-in_level // DIVISION_SIZE))
        codes = [_division_code(kind, tag, j) for j in range(count)]
        levels.append(_Level(rank, tag, mef, (11 if kind == "college" else 15) + rank, codes))
        prefix = _division_prefix(kind, tag)
        divisions += [SyntheticDivision(code, f"{DIVISION_LABELS[tag]} {code.removeprefix(prefix)}", mef.code)
                      for code in codes]
        groups += [SyntheticGroup(code, label, list(codes)) for code, label in _level_groups(kind, tag)]
    clock = random.Random(f"{uai}/{seed}/clock")
    return SyntheticSchool(
        uai=uai,
        school_year=school_year,
        export_date=date(school_year, 9, 18),  # a mid-September export, after the rentrée
        export_time=f"{clock.randint(7, 18):02d}:{clock.randint(0, 59):02d}:{clock.randint(0, 59):02d}",
        kind=kind,
        seed=seed,
        n_students=n_students,
        mefs=mefs,
        divisions=divisions,
        groups=groups,
        levels=levels,
    )


def _division_prefix(kind: str, tag: str) -> str:
    return LYCEE_DIVISION_PREFIXES[tag] if kind == "lycee" else tag


def _division_code(kind: str, tag: str, index: int) -> str:
    if kind == "lycee":
        return f"{_division_prefix(kind, tag)}{index + 1}"  # 2DE1, 1G2, TG3
    letters = ""  # bijective base 26: A..Z, AA, AB… (only huge benchmark schools need two letters)
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return tag + letters


def _level_groups(kind: str, tag: str) -> list[tuple[str, str]]:
    year = {"6": "6e", "5": "5e", "4": "4e", "3": "3e", "2": "2de", "1": "1re", "T": "Tle"}[tag]
    if kind == "college" and tag == "6":
        return [("BILANG6", "Bilangue anglais-allemand 6e")]
    found = [(f"{code}{tag}-LV2", f"{label} LV2 {year}") for code, label, _ in LV2]
    if kind == "college" or tag == "2":
        found.append((f"LATIN{tag}", f"Latin {year}"))
    if kind == "lycee" and tag != "2":
        found += [(f"{tag}SPE-{code}", f"Spécialité {label} {year}") for code, label, _ in SPECIALITIES]
    return found


def _salt(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(slots=True)
class _Address:
    address_id: str
    line1: str
    line2: str
    line3: str
    line4: str
    postal_code: str
    city: str
    country: str
    foreign_city: str


@dataclass(frozen=True, slots=True)
class _FamilySpec:
    """What a family must look like; None means "draw at random"."""

    children: int
    structure: str | None = None  # "both", "mother", "father", "tutor"
    separated: bool | None = None
    last_name: str | None = None
    child_names: tuple[tuple[str, str], ...] = ()  # (first name, sex) per child
    mother_name: tuple[str, str] | None = None  # (first, last)
    father_name: tuple[str, str] | None = None
    mother_email: str | None = None  # explicit address, or "none" / "invalid"
    father_email: str | None = None
    duplicate_mother: bool = False
    grandparent: bool = False
    abroad: bool = False
    departed: bool = False
    adult: bool = False


def _scripted_families(kind: str) -> list[_FamilySpec]:
    """The cases every school of 40+ students contains at least once (planted in batch 0)."""
    specs = [
        # siblings sharing both guardians; particle name; hyphenated first name; accents
        _FamilySpec(3, "both", False, "de La Tour",
                    (("Éloïse", "2"), ("Jean-Baptiste", "1"), ("Maël", "1")),
                    mother_name=("Bénédicte", "Martin-Lefèvre"), father_name=("Loïc", "de La Tour")),
        # the mother entered twice (once per sibling): same name, email and address content
        _FamilySpec(2, "both", False, "N'Diaye", (("Anaïs", "2"), ("Noémie", "2")),
                    mother_name=("Aminata", "N'Diaye"), mother_email="aminata.ndiaye@gmail.com",
                    duplicate_mother=True),
        # homonyms: two different students called Léa Martin
        _FamilySpec(1, "both", False, "Martin", (("Léa", "2"),), father_name=("Jérôme", "Martin")),
        # ... the second one lives with her mother only, who has no email
        _FamilySpec(1, "mother", None, "Martin", (("Léa", "2"),),
                    mother_name=("Françoise", "Martin"), mother_email="none"),
        # two different guardians called Jean Dupont, with different emails
        _FamilySpec(1, "both", False, "Dupont", (("Héloïse", "2"),),
                    father_name=("Jean", "Dupont"), father_email="jean.dupont@orange.fr"),
        # ... the other one; his partner's email is malformed; a grandparent is a rank-0 contact
        _FamilySpec(1, "both", False, "Dupont", (("Chloé", "2"),),
                    father_name=("Jean", "Dupont"), father_email="jean.dupont54@gmail.com",
                    mother_name=("Gaëlle", "D'Almeida"), mother_email="invalid", grandparent=True),
        # separated parents, the father lives abroad
        _FamilySpec(1, "both", True, "Le Gall", (("Maël", "1"),), abroad=True),
        # a departed student (DATE_SORTIE set)
        _FamilySpec(1, "both", False, "L'Hôte", (("Marie-Ève", "2"),), departed=True),
    ]
    if kind == "lycee":
        specs.append(_FamilySpec(1, "both", False, "Van der Berg", (("Timothée", "1"),), adult=True))
    return specs


class _BatchBuilder:
    """Generates batch number `index` of a school: students [index*B, (index+1)*B)."""

    def __init__(self, school: SyntheticSchool, index: int) -> None:
        self.school = school
        self.rng = random.Random(f"{school.uai}/{school.seed}/{school.kind}/{school.school_year}/{index}")
        self.start = index * BATCH_SIZE
        self.stop = min(self.start + BATCH_SIZE, school.n_students)
        self.next_student = self.start
        # Person and address numbers are reserved per batch so that batches never collide.
        self.next_person = self.start * MAX_PERSONS_PER_STUDENT
        self.next_address = self.next_person
        salt = _salt(school.uai, school.seed)
        self.id_salt = salt % _ID_SPAN
        self.person_salt = (salt >> 20) % _ID_SPAN
        self.address_salt = (salt >> 40) % _ID_SPAN
        self.ine_salt = salt % _INE_SPAN
        self.students: list[SyntheticStudent] = []
        self.guardians: list[SyntheticGuardian] = []
        self.links: list[SyntheticLink] = []

    def build(self) -> SyntheticBatch:
        if self.start == 0:
            for spec in _scripted_families(self.school.kind):
                if spec.adult:  # an adult is realistic in terminale: skip to a terminale slot
                    last_rank = len(self.school.levels) - 1
                    while self.remaining() > spec.children and self._level(self.next_student).rank != last_rank:
                        self._family(_FamilySpec(1))
                if self.remaining() < spec.children:
                    break
                self._family(spec)
        while self.remaining():
            children = self.rng.choices((1, 2, 3), cum_weights=(62, 92, 100))[0]
            self._family(_FamilySpec(min(children, self.remaining())))
        return SyntheticBatch(self.students, self.guardians, self.links)

    def remaining(self) -> int:
        return self.stop - self.next_student

    # -- one family ------------------------------------------------------------------------

    def _family(self, spec: _FamilySpec) -> None:
        rng = self.rng
        structures = ("both", "mother", "father", "tutor")
        structure = spec.structure or rng.choices(structures, cum_weights=(80, 93, 97, 100))[0]
        separated = spec.separated if spec.separated is not None else rng.random() < 0.2
        family_name = spec.last_name or self._last_name()
        home = self._address()
        mother = father = None
        legal: list[tuple[SyntheticGuardian, str]] = []  # (guardian, CODE_PARENTE) by legal rank
        if structure in ("both", "father"):
            first, last = spec.father_name or (rng.choice(MEN), family_name)
            if structure == "both" and separated:
                address = self._address(abroad=spec.abroad or rng.random() < 0.03)
            else:
                address = home
            father = self._person("M.", last, first, address, spec.father_email)
            legal.append((father, "20"))
        if structure in ("both", "mother"):
            keeps_own_name = structure == "both" and rng.random() < (0.7 if separated else 0.45)
            if spec.mother_name:
                first, last = spec.mother_name
            else:
                first, last = rng.choice(WOMEN), self._last_name() if keeps_own_name else family_name
            mother = self._person("MME", last, first, home, spec.mother_email)
            # SIECLE ranks whoever was entered first; more often the mother than the father.
            legal.insert(0 if rng.random() < 0.55 else len(legal), (mother, "10"))
        if structure == "tutor":
            civility, first = self._adult()
            legal.append((self._person(civility, self._last_name(), first, home, None), "50"))
        contacts: list[tuple[SyntheticGuardian, str]] = []  # rank 0: to call, but no account
        if spec.grandparent or rng.random() < 0.05:
            if spec.grandparent or rng.random() < 0.8:
                civility, first = self._adult()
                contacts.append((self._person(civility, family_name, first, self._address(), None), "38"))
            else:  # a neighbour or child-minder, to call when the parents cannot be reached
                neighbour = self._person("MME", self._last_name(), rng.choice(WOMEN), self._address(), None)
                contacts.append((neighbour, "90"))
        # The same person entered again for the next siblings (typically after a transfer):
        # identical name, email, phones and address content, new PERSONNE_ID and ADRESSE_ID.
        duplicated: SyntheticGuardian | None = None
        copy: SyntheticGuardian | None = None
        if spec.duplicate_mother or (spec.children > 1 and rng.random() < 0.05):
            duplicated = mother if mother and (spec.duplicate_mother or rng.random() < 0.7) else legal[0][0]
            copy = self._duplicate(duplicated)
        first_names_taken: set[str] = set()
        for child in range(spec.children):
            name, sex = spec.child_names[child] if child < len(spec.child_names) else (None, None)
            student = self._student(spec, family_name, father, mother, name, sex, first_names_taken,
                                    departed=spec.departed and child == 0, adult=spec.adult and child == 0)
            for rank, (guardian, code) in enumerate(legal, start=1):
                if copy is not None and child > 0 and guardian is duplicated:
                    guardian = copy
                is_contact = rank == 1 or rng.random() < 0.85
                self.links.append(SyntheticLink(student.siecle_id, guardian.siecle_id, rank, code, is_contact))
            for guardian, code in contacts:
                self.links.append(SyntheticLink(student.siecle_id, guardian.siecle_id, 0, code, True))

    def _student(self, spec: _FamilySpec, family_name: str, father: SyntheticGuardian | None,
                 mother: SyntheticGuardian | None, first_name: str | None, sex: str | None,
                 taken: set[str], *, departed: bool, adult: bool) -> SyntheticStudent:
        rng = self.rng
        index = self.next_student
        self.next_student += 1
        level = self._level(index)
        sex = sex or rng.choice("12")
        pool = BOYS if sex == "1" else GIRLS
        if first_name is None:
            first_name = self._other_name(pool, *taken)  # siblings get different names
        taken.add(first_name)
        if spec.last_name or not (father and mother):
            last_name = family_name
        else:
            roll = rng.random()
            double = f"{father.last_name}-{mother.last_name}"
            # a double name "Father-Mother", only when both are single words
            if roll < 0.08 and father.last_name != mother.last_name and re.fullmatch(r"[^ -]+-[^ -]+", double):
                last_name = double
            elif roll < 0.15:
                last_name = mother.last_name
            else:
                last_name = father.last_name
        roll = rng.random()
        if roll < 0.82:
            usage_name = last_name
        elif roll < 0.86 and mother and mother.last_name != last_name:
            usage_name = mother.last_name  # a usage name differing from the family name
        else:
            usage_name = ""
        first_name_2 = self._other_name(pool, first_name) if rng.random() < 0.6 else ""
        first_name_3 = self._other_name(pool, first_name, first_name_2) if rng.random() < 0.15 else ""
        export = self.school.export_date
        if adult:
            birth = date(export.year - 18, export.month, export.day) - timedelta(days=rng.randint(10, 300))
        else:
            year = self.school.school_year - level.base_age
            roll = rng.random()
            late, very_late, early = (0.07, 0.01, 0.02) if self.school.kind == "college" else (0.12, 0.03, 0.01)
            if roll < very_late:
                year -= 2
            elif roll < very_late + late:
                year -= 1
            elif roll < very_late + late + early:
                year += 1
            birth = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
        rentree = date(self.school.school_year - level.rank, 9, 1)
        if rng.random() < 0.1 and not departed:  # arrived during a school year (transfer)
            entry = rentree + timedelta(days=rng.randint(1, (export - rentree).days - 1))
        else:
            entry = rentree
        left_on = None
        if departed or rng.random() < 0.02:
            first_day = max(entry + timedelta(days=1), export - timedelta(days=16))
            if first_day < export:
                left_on = first_day + timedelta(days=rng.randint(0, (export - first_day).days - 1))
        divisions = level.division_codes
        student = SyntheticStudent(
            siecle_id=self._scatter(index, self.id_salt, 7_654_321),
            elenoet=str(1000 + index),
            national_id=self._ine(index),
            last_name=last_name,
            usage_name=usage_name,
            first_name=first_name,
            first_name_2=first_name_2,
            first_name_3=first_name_3,
            birth_date=birth,
            sex=sex,
            mef_code=level.mef.code,
            division=divisions[(index // len(self.school.levels)) % len(divisions)],
            groups=self._groups(level),
            entry_date=entry,
            left_on=left_on,
        )
        self.students.append(student)
        return student

    def _groups(self, level: _Level) -> list[str]:
        rng, tag = self.rng, level.tag
        if self.school.kind == "college" and tag == "6":
            return ["BILANG6"] if rng.random() < 0.15 else []
        groups = [f"{rng.choices(LV2_CODES, cum_weights=LV2_WEIGHTS)[0]}{tag}-LV2"]
        college = self.school.kind == "college"
        if (college or tag == "2") and rng.random() < (0.2 if college else 0.05):
            groups.append(f"LATIN{tag}")
        if self.school.kind == "lycee" and tag != "2":
            chosen: list[str] = []
            while len(chosen) < (3 if tag == "1" else 2):
                code = rng.choices(SPECIALITY_CODES, cum_weights=SPECIALITY_WEIGHTS)[0]
                if code not in chosen:
                    chosen.append(code)
            groups += [f"{tag}SPE-{code}" for code in chosen]
        return groups

    # -- people and addresses ----------------------------------------------------------------

    def _person(self, civility: str, last_name: str, first_name: str, address: _Address,
                email: str | None) -> SyntheticGuardian:
        rng = self.rng
        if email is None:  # not imposed by the script: realistic mix
            roll = rng.random()
            email = "none" if roll < 0.12 else "invalid" if roll < 0.145 else self._email(first_name, last_name)
        if email == "none":
            email_value = None
        elif email == "invalid":
            email_value = self._invalid_email(first_name, last_name)
        else:
            email_value = email
        abroad_phone = next((phone for country, _, _, phone in ABROAD if country == address.country), None)
        mobile = abroad_phone or self._phone(rng.choice(("06", "07")))
        guardian = SyntheticGuardian(
            siecle_id=self._scatter(self._take_person(), self.person_salt, 2_718_281),
            civility=civility,
            last_name=last_name,
            first_name=first_name,
            email=email_value,
            phone_home=self._phone("03 83") if rng.random() < 0.4 and not abroad_phone else None,
            phone_mobile=mobile if rng.random() < 0.92 else None,
            phone_work=self._phone(rng.choice(("03 83", "03 87", "03 29"))) if rng.random() < 0.25 else None,
            address_id=address.address_id,
            address_line1=address.line1,
            address_line2=address.line2,
            address_line3=address.line3,
            address_line4=address.line4,
            postal_code=address.postal_code,
            city=address.city,
            country=address.country,
            foreign_city=address.foreign_city,
        )
        self.guardians.append(guardian)
        return guardian

    def _duplicate(self, guardian: SyntheticGuardian) -> SyntheticGuardian:
        copy = replace(
            guardian,
            siecle_id=self._scatter(self._take_person(), self.person_salt, 2_718_281),
            address_id=self._scatter(self._take_address(), self.address_salt, 3_141_593),
        )
        self.guardians.append(copy)
        return copy

    def _take_person(self) -> int:
        self.next_person += 1
        assert self.next_person <= self.stop * MAX_PERSONS_PER_STUDENT, "person numbers overflow the batch"
        return self.next_person - 1

    def _take_address(self) -> int:
        self.next_address += 1
        assert self.next_address <= self.stop * MAX_PERSONS_PER_STUDENT, "address numbers overflow the batch"
        return self.next_address - 1

    def _address(self, *, abroad: bool = False) -> _Address:
        rng = self.rng
        address_id = self._scatter(self._take_address(), self.address_salt, 3_141_593)
        if abroad:
            country, city, street, _ = rng.choice(ABROAD)
            return _Address(address_id, street, "", "", "", "", "", country, city)
        city, postal_code, _ = rng.choice(CITIES)
        number = rng.randint(1, 140)
        street = f"{number}{' bis' if rng.random() < 0.04 else ''} {rng.choice(STREETS)}"
        complement = rng.choice(COMPLEMENTS) if rng.random() < 0.2 else ""
        # SIECLE addresses often carry the complement on line 1 and the street on line 2.
        line1, line2 = (complement, street) if complement and rng.random() < 0.5 else (street, complement)
        line3 = "BP 12" if rng.random() < 0.01 else ""
        line4 = "Lieu-dit Le Haut-du-Lièvre" if rng.random() < 0.01 else ""
        return _Address(address_id, line1, line2, line3, line4, postal_code, city, "FRANCE", "")

    def _email(self, first_name: str, last_name: str) -> str:
        rng = self.rng
        first, last = _mail_part(first_name), _mail_part(last_name)
        domain = rng.choices(EMAIL_DOMAINS, cum_weights=EMAIL_DOMAIN_WEIGHTS)[0]
        roll = rng.random()
        if roll < 0.45:
            local = f"{first}.{last}"
        elif roll < 0.7:
            local = f"{first}.{last}{rng.randint(1, 99)}"
        elif roll < 0.85:
            local = f"{first[0]}{last}{rng.randint(54, 88)}"
        else:
            local = f"{last}.{first}"
        return f"{local}@{domain}"

    def _invalid_email(self, first_name: str, last_name: str) -> str:
        first, last = _mail_part(first_name), _mail_part(last_name)
        domain = self.rng.choice(("gmail.com", "orange.fr", "free.fr", "hotmail.fr"))
        return self.rng.choice((
            f"{first}.{last}@{domain.split('.')[0]}",  # no top-level domain
            f"{last}.{domain}",  # no @ at all
            f"{first} {last}@{domain}",  # a space
            f"{first}.{last}@@{domain}",
            f"{first}.{last}@{domain.replace('.', ',')}",
        ))

    def _phone(self, prefix: str) -> str:
        prefix = prefix.replace(" ", "")
        width = 10 - len(prefix)
        digits = f"{prefix}{self.rng.randrange(10 ** width):0{width}d}"
        style = self.rng.random()
        if style < 0.7:
            return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
        if style < 0.9:
            return digits
        return ".".join(digits[i:i + 2] for i in range(0, 10, 2))

    def _other_name(self, pool: Sequence[str], *used: str) -> str:
        while (name := self.rng.choice(pool)) in used:
            pass
        return name

    def _adult(self) -> tuple[str, str]:
        """(civility, first name) of an adult of either sex."""
        return ("M.", self.rng.choice(MEN)) if self.rng.random() < 0.5 else ("MME", self.rng.choice(WOMEN))

    def _last_name(self) -> str:
        return self.rng.choices(LAST_NAMES, cum_weights=LAST_NAME_WEIGHTS)[0]

    def _level(self, index: int) -> _Level:
        return self.school.levels[index % len(self.school.levels)]

    def _ine(self, index: int) -> str:
        number = (3_987_654_321 * index + self.ine_salt) % _INE_SPAN
        return f"{number:010d}{_INE_LETTERS[number % len(_INE_LETTERS)]}"

    @staticmethod
    def _scatter(index: int, salt: int, multiplier: int) -> str:
        # An affine permutation of the id space: unique, yet not visibly sequential. The multiplier
        # is coprime with 9,000,000 (not divisible by 2, 3 or 5).
        return str(1_000_000 + (multiplier * index + salt) % _ID_SPAN)


@cache  # the name lists are finite
def _mail_part(name: str) -> str:
    folded = name.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum() or ch == "-")


# --------------------------------------------------------------------------------------------
# XML writers (streaming: one element built and written per record)
# --------------------------------------------------------------------------------------------


def _fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _check_id_style(id_style: str) -> None:
    if id_style not in ID_STYLES:
        raise ValueError(f"id_style must be one of {ID_STYLES}, not {id_style!r}")


def _record(tag: str, id_style: str, ids: Sequence[tuple[str, str]]) -> etree._Element:
    """A record element carrying its identifiers as attributes or as leading child elements."""
    if id_style == "attribute":
        return etree.Element(tag, {name: value for name, value in ids})
    element = etree.Element(tag)
    for name, value in ids:
        etree.SubElement(element, name).text = value
    return element


def _add(parent: etree._Element, tag: str, value: str | None) -> None:
    if value:  # empty optional fields are omitted, as in real exports
        etree.SubElement(parent, tag).text = value


class _BeeWriter:
    """Thin wrapper over lxml's incremental writer that keeps the output indented."""

    def __init__(self, xf: Any, depth: int) -> None:
        self.xf = xf
        self.depth = depth

    def write(self, element: etree._Element) -> None:
        etree.indent(element, space="  ", level=self.depth)
        self.xf.write("  " * self.depth)
        self.xf.write(element)
        self.xf.write("\n")


@contextmanager
def _bee_file(path: str | Path, root: str, version: str, school: SyntheticSchool, encoding: str,
              sections: Sequence[str]) -> Iterator[dict[str, _BeeWriter]]:
    """Stream a BEE file whose DONNEES holds `sections`, all fed during one pass over the population.

    Each section is written incrementally by its own `etree.xmlfile` into a scratch file; on
    success the document is assembled (declaration, root, PARAMETRES, then the sections spliced in
    order). Memory stays flat and the population is generated once per file, not once per section.
    """
    writers: dict[str, _BeeWriter] = {}
    parts: list[tuple[BinaryIO, ExitStack]] = []
    with ExitStack() as cleanup:
        for tag in sections:
            scratch = cleanup.enter_context(tempfile.TemporaryFile())
            scratch.write("    ".encode(encoding))  # lxml refuses text outside the root element
            section = ExitStack()
            cleanup.callback(section.close)
            xf = section.enter_context(etree.xmlfile(scratch, encoding=encoding))
            section.enter_context(xf.element(tag))
            section.callback(xf.write, "    ")  # runs first on close: indents the closing tag
            xf.write("\n")
            writers[tag] = _BeeWriter(xf, 3)
            parts.append((scratch, section))
        yield writers
        for part, section in parts:
            section.close()  # closes the section element and flushes lxml's buffer
            part.write("\n".encode(encoding))
        parameters = etree.Element("PARAMETRES")
        _add(parameters, "UAJ", school.uai)
        _add(parameters, "ANNEE_SCOLAIRE", str(school.school_year))
        _add(parameters, "DATE_EXPORT", _fmt(school.export_date))
        _add(parameters, "HORODATAGE", f"{_fmt(school.export_date)} {school.export_time}")
        etree.indent(parameters, space="  ", level=1)
        with open(path, "wb") as out:
            # The declaration is written by hand to get the double quotes real exports carry.
            head = f'<?xml version="1.0" encoding="{encoding}"?>\n<{root} VERSION="{version}">\n  '
            out.write(head.encode(encoding))
            out.write(etree.tostring(parameters, encoding=encoding, xml_declaration=False))
            out.write("\n  <DONNEES>\n".encode(encoding))
            for part, _ in parts:
                part.seek(0)
                shutil.copyfileobj(part, out, 1 << 20)
            out.write(f"  </DONNEES>\n</{root}>\n".encode(encoding))


def write_students(school: SyntheticSchool, path: str | Path, *, with_addresses: bool = False,
                   id_style: str = "attribute", legacy_names: bool = False,
                   encoding: str = DEFAULT_ENCODING) -> Path:
    """`ElevesSansAdresses.xml` (or `ElevesAvecAdresses.xml` with `with_addresses`)."""
    _check_id_style(id_style)
    sections = ["ELEVES", "STRUCTURES"] + (["ADRESSES"] if with_addresses else [])
    with _bee_file(path, "BEE_ELEVES", "3.3", school, encoding, sections) as out:
        for batch in school.batches():
            homes = _student_homes(batch) if with_addresses else {}
            for student in batch.students:
                home = homes.get(student.siecle_id)
                out["ELEVES"].write(_student_element(student, id_style, legacy_names, home))
                element = _record("STRUCTURES_ELEVE", id_style, [("ELEVE_ID", student.siecle_id)])
                for code, kind in [(student.division, "D")] + [(group, "G") for group in student.groups]:
                    structure = etree.SubElement(element, "STRUCTURE")
                    _add(structure, "CODE_STRUCTURE", code)
                    _add(structure, "TYPE_STRUCTURE", kind)
                out["STRUCTURES"].write(element)
            for guardian in _unique_addresses(homes.values()):
                out["ADRESSES"].write(_address_element(guardian, id_style))
    return Path(path)


def _student_homes(batch: SyntheticBatch) -> dict[str, SyntheticGuardian]:
    """Student id -> the rank-1 guardian whose address the student shares."""
    by_id = {guardian.siecle_id: guardian for guardian in batch.guardians}
    return {link.student_id: by_id[link.guardian_id] for link in batch.links if link.legal_rank == 1}


def _unique_addresses(guardians: Iterable[SyntheticGuardian]) -> Iterator[SyntheticGuardian]:
    """One guardian per address id (addresses are never shared across batches)."""
    seen: set[str] = set()
    for guardian in guardians:
        if guardian.address_id not in seen:
            seen.add(guardian.address_id)
            yield guardian


def _student_element(student: SyntheticStudent, id_style: str, legacy_names: bool,
                     home: SyntheticGuardian | None) -> etree._Element:
    element = _record("ELEVE", id_style, [("ELEVE_ID", student.siecle_id), ("ELENOET", student.elenoet)])
    # Deterministic "noise" derived from the id, for the fields the importer ignores.
    noise = int(student.siecle_id)
    _add(element, "ID_NATIONAL", student.national_id)
    _add(element, "NOM" if legacy_names else "NOM_DE_FAMILLE", student.last_name)
    _add(element, "NOM_USAGE", student.usage_name)
    _add(element, "PRENOM", student.first_name)
    _add(element, "PRENOM2", student.first_name_2)
    _add(element, "PRENOM3", student.first_name_3)
    _add(element, "DATE_NAISS", _fmt(student.birth_date))
    _add(element, "CODE_PAYS", "100")
    _add(element, "CODE_PAYS_NAT", "100" if noise % 17 else "212")
    _add(element, "CODE_SEXE", student.sex)
    _add(element, "CODE_REGIME", ("2", "2", "0", "2", "1")[noise % 5])
    _add(element, "DOUBLEMENT", "1" if noise % 23 == 0 else "0")
    _add(element, "CODE_STATUT", "ST")
    _add(element, "CODE_MEF", student.mef_code)
    _add(element, "ADHESION_TRANSPORT", "1" if noise % 3 == 0 else "0")
    _add(element, "DATE_ENTREE", _fmt(student.entry_date))
    if student.left_on:
        _add(element, "DATE_SORTIE", _fmt(student.left_on))
        _add(element, "CODE_MOTIF_SORTIE", "DEM")
    if home is not None:
        _add(element, "ADRESSE_ID", home.address_id)
    return element


def write_guardians(school: SyntheticSchool, path: str | Path, *, id_style: str = "attribute",
                    legacy_names: bool = False, encoding: str = DEFAULT_ENCODING) -> Path:
    """`ResponsablesAvecAdresses.xml`: persons, their links to students, their addresses."""
    _check_id_style(id_style)
    with _bee_file(path, "BEE_RESPONSABLES", "1.7", school, encoding,
                   ["PERSONNES", "RESPONSABLES", "ADRESSES"]) as out:
        for batch in school.batches():
            for guardian in batch.guardians:
                out["PERSONNES"].write(_person_element(guardian, id_style, legacy_names))
            for link in batch.links:
                element = etree.Element("RESPONSABLE_ELEVE")
                _add(element, "ELEVE_ID", link.student_id)
                _add(element, "PERSONNE_ID", link.guardian_id)
                _add(element, "RESP_LEGAL", str(link.legal_rank))
                _add(element, "CODE_PARENTE", link.relationship_code)
                _add(element, "RESP_FINANCIER", "1" if link.legal_rank == 1 else "0")
                _add(element, TAG_PAYMENT, "1" if link.legal_rank == 1 else "0")
                _add(element, TAG_CONTACT, "1" if link.is_contact else "0")
                out["RESPONSABLES"].write(element)
            for guardian in _unique_addresses(batch.guardians):
                out["ADRESSES"].write(_address_element(guardian, id_style))
    return Path(path)


def _person_element(guardian: SyntheticGuardian, id_style: str, legacy_names: bool) -> etree._Element:
    element = _record("PERSONNE", id_style, [("PERSONNE_ID", guardian.siecle_id)])
    profession = PROFESSIONS[int(guardian.siecle_id) % len(PROFESSIONS)]
    _add(element, "NOM" if legacy_names else "NOM_DE_FAMILLE", guardian.last_name)
    _add(element, "PRENOM", guardian.first_name)
    _add(element, "LC_CIVILITE", guardian.civility)
    _add(element, "TEL_PERSONNEL", guardian.phone_home)
    _add(element, "TEL_PORTABLE", guardian.phone_mobile)
    _add(element, "TEL_PROFESSIONNEL", guardian.phone_work)
    _add(element, "MEL", guardian.email)
    _add(element, "ACCEPTE_SMS", "1" if guardian.phone_mobile else "0")
    _add(element, "ADRESSE_ID", guardian.address_id)
    _add(element, "CODE_PROFESSION", profession[0])
    _add(element, "LC_PROFESSION", profession[1])
    _add(element, "COMMUNICATION_ADRESSE", "1")
    return element


def _address_element(guardian: SyntheticGuardian, id_style: str) -> etree._Element:
    element = _record("ADRESSE", id_style, [("ADRESSE_ID", guardian.address_id)])
    _add(element, "LIGNE1_ADRESSE", guardian.address_line1)
    _add(element, "LIGNE2_ADRESSE", guardian.address_line2)
    _add(element, "LIGNE3_ADRESSE", guardian.address_line3)
    _add(element, "LIGNE4_ADRESSE", guardian.address_line4)
    _add(element, "CODE_POSTAL", guardian.postal_code)
    _add(element, "LIBELLE_POSTAL", guardian.city)
    _add(element, "COMMUNE_ETRANGERE", guardian.foreign_city)
    _add(element, "LL_PAYS", guardian.country)
    _add(element, "CODE_PAYS", "100" if guardian.country == "FRANCE" else "999")
    _add(element, "CODE_DEPARTEMENT", DEPARTMENTS.get(guardian.postal_code))
    return element


def write_nomenclatures(school: SyntheticSchool, path: str | Path, *, id_style: str = "attribute",
                        encoding: str = DEFAULT_ENCODING) -> Path:
    """`Nomenclature.xml`: the school's MEFs (plus subjects, which the importer ignores)."""
    _check_id_style(id_style)
    with _bee_file(path, "BEE_NOMENCLATURES", "3.3", school, encoding, ["MEFS", "MATIERES"]) as out:
        for mef in school.mefs:
            element = _record("MEF", id_style, [("CODE_MEF", mef.code)])
            _add(element, "FORMATION", mef.short_label)
            _add(element, "LIBELLE_COURT", mef.short_label)
            _add(element, "LIBELLE_LONG", mef.long_label)
            _add(element, "LIBELLE_EDITION", mef.edition_label)
            _add(element, "MEF_RATTACHEMENT", mef.attached_mef)
            _add(element, "CODE_MEFSTAT", mef.mefstat)
            _add(element, "MEF_INSCRIPTION", "1")
            out["MEFS"].write(element)
        for code, short, long in SUBJECTS:
            element = _record("MATIERE", id_style, [("CODE_MATIERE", code)])
            _add(element, "CODE_GESTION", short)
            _add(element, "LIBELLE_COURT", short)
            _add(element, "LIBELLE_LONG", long)
            _add(element, "LIBELLE_EDITION", long.capitalize())
            out["MATIERES"].write(element)
    return Path(path)


def write_structures(school: SyntheticSchool, path: str | Path, *, id_style: str = "attribute",
                     encoding: str = DEFAULT_ENCODING) -> Path:
    """`Structures.xml`: divisions with their MEF, groups with the divisions they draw from."""
    _check_id_style(id_style)
    with _bee_file(path, "BEE_STRUCTURES", "1.1", school, encoding, ["DIVISIONS", "GROUPES"]) as out:
        for division in school.divisions:
            element = _record("DIVISION", id_style, [("CODE_STRUCTURE", division.code)])
            _add(element, "LIBELLE_LONG", division.label)
            mefs = etree.SubElement(element, "MEFS_APPARTENANCE")
            _add(etree.SubElement(mefs, "MEF_APPARTENANCE"), "CODE_MEF", division.mef_code)
            out["DIVISIONS"].write(element)
        for group in school.groups:
            element = _record("GROUPE", id_style, [("CODE_STRUCTURE", group.code)])
            _add(element, "LIBELLE_LONG", group.label)
            parents = etree.SubElement(element, "DIVISIONS_APPARTENANCE")
            for code in group.division_codes:
                _add(etree.SubElement(parents, "DIVISION_APPARTENANCE"), "CODE_STRUCTURE", code)
            out["GROUPES"].write(element)
    return Path(path)


# --------------------------------------------------------------------------------------------
# CSV, zip, whole export
# --------------------------------------------------------------------------------------------


def write_csv(school: SyntheticSchool, path: str | Path, *, encoding: str = "UTF-8", bom: bool = True) -> Path:
    """The format of schools without SIECLE (documented in docs/import-csv.md)."""
    utf8 = encoding.replace("_", "-").upper() in ("UTF-8", "UTF8")
    with open(path, "w", encoding="utf-8-sig" if utf8 and bom else encoding, newline="") as out:
        # CRLF and ';' because that is what spreadsheet software in French locales reads and writes.
        # The plain writer, not ts_shared.csv_export's: this file is read back by the import, whose
        # values (a phone number « +32 … ») must come back unchanged.
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        labels = {mef.code: mef.long_label for mef in school.mefs}
        for batch in school.batches():
            by_id = {guardian.siecle_id: guardian for guardian in batch.guardians}
            legal: dict[tuple[str, int], SyntheticGuardian] = {
                (link.student_id, link.legal_rank): by_id[link.guardian_id]
                for link in batch.links if link.legal_rank in (1, 2)
            }
            for student in batch.students:
                if student.left_on:
                    continue  # departures are students absent from the file
                row = [
                    student.siecle_id, student.last_name, student.usage_name, student.first_name,
                    _fmt(student.birth_date), "M" if student.sex == "1" else "F", student.mef_code,
                    labels[student.mef_code], student.division, ",".join(student.groups),
                    student.national_id,
                ]
                for rank in (1, 2):
                    row += _csv_guardian(legal.get((student.siecle_id, rank)))
                writer.writerow(row)
    return Path(path)


def _csv_guardian(guardian: SyntheticGuardian | None) -> list[str]:
    if guardian is None:
        return [""] * 10
    return [
        guardian.siecle_id, guardian.civility, guardian.last_name, guardian.first_name,
        guardian.email or "", guardian.phone_mobile or "", ", ".join(guardian.address_lines),
        guardian.postal_code, guardian.city or guardian.foreign_city, guardian.country,
    ]


def write_zip(path_zip: str | Path, files: dict[str, str | Path]) -> Path:
    """A zip holding `files` (archive name -> file on disk), byte-identical for identical input."""
    with zipfile.ZipFile(path_zip, "w") as archive:
        for name, source in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: reproducible zips
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(source, "rb") as data, archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(data, target, 1 << 20)
    return Path(path_zip)


def write_export(school: SyntheticSchool, folder: str | Path, *, encoding: str = DEFAULT_ENCODING,
                 id_style: str = "attribute", zipped: bool = False) -> list[Path]:
    """The four standard files under their real names (or one zip per file)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writers = {
        "students": write_students, "guardians": write_guardians,
        "nomenclatures": write_nomenclatures, "structures": write_structures,
    }
    if not zipped:
        return [writers[key](school, folder / name, id_style=id_style, encoding=encoding)
                for key, name in EXPORT_FILES.items()]
    written = []
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        for key, name in EXPORT_FILES.items():
            xml = writers[key](school, Path(scratch) / name, id_style=id_style, encoding=encoding)
            written.append(write_zip(folder / (Path(name).stem + ".zip"), {name: xml}))
            xml.unlink()  # keep the scratch space to one file at a time
    return written


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ts_accounts.demo.synthetic_siecle",
        description="Write a synthetic school population as SIECLE BEE exports (and optionally CSV).",
    )
    parser.add_argument("--uai", required=True, help="school code, e.g. 0541234X")
    parser.add_argument("--students", type=int, required=True, help="number of students")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--school-year", type=int, default=2026, help="2026 means 2026-2027")
    parser.add_argument("--kind", choices=KINDS, default="college")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--encoding", default=DEFAULT_ENCODING, help="XML encoding (default ISO-8859-15)")
    parser.add_argument("--id-style", choices=ID_STYLES, default="attribute")
    parser.add_argument("--zip", action="store_true", help="one zip per XML file, like real downloads")
    parser.add_argument("--csv", action="store_true", help=f"also write {CSV_FILE} (UTF-8 with BOM)")
    args = parser.parse_args(argv)
    school = generate_school(args.uai, args.students, seed=args.seed, school_year=args.school_year,
                             kind=args.kind)
    paths = write_export(school, args.out, encoding=args.encoding, id_style=args.id_style, zipped=args.zip)
    if args.csv:
        paths.append(write_csv(school, args.out / CSV_FILE))
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
