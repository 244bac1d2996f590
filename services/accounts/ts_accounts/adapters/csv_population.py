"""The CSV import for schools without SIECLE (format and rules: docs/import-csv.md).

One row per enrolled student, with its legal guardians 1 and 2 on the same row; `;` separated,
UTF-8 (with or without BOM) or Windows-1252 as Excel saves it. The whole file is checked before
anything is imported, and every error is reported (file, line, column, value), so a secretary
fixes them all in one go. The rows become the same records as a SIECLE export.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ts_accounts.adapters.siecle import ImportFileError
from ts_accounts.domain.population import (
    AddressRecord, GuardianRecord, LinkRecord, MefRecord, StructureRecord, StudentRecord, StudentStructures,
)

STUDENT_COLUMNS = ("eleve_id", "nom", "nom_usage", "prenom", "date_naissance", "sexe", "code_mef", "libelle_mef",
                   "division", "groupes", "ine")
GUARDIAN_COLUMNS = (
    "id",
    "civilite",
    "nom",
    "prenom",
    "mel",
    "tel_portable",
    "adresse",
    "code_postal",
    "commune",
    "pays",
)
COLUMNS = STUDENT_COLUMNS + tuple(f"resp{rank}_{column}" for rank in (1, 2) for column in GUARDIAN_COLUMNS)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_SEX = {"1": "M", "2": "F", "M": "M", "F": "F"}
_CIVILITY = {"M.": "M.", "M": "M.", "MONSIEUR": "M.", "MME": "MME", "MADAME": "MME"}
MAX_REPORTED = 100
# The whole file is decoded and checked in memory before anything is imported: 10 MB holds
# 30,000 students (5,000 take 1.5 MB), and keeps a crafted file from exhausting the process.
MAX_CSV_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class CsvPopulation:
    """Everything a CSV file says, in the order an import applies it."""

    mefs: list[MefRecord]
    structures: list[StructureRecord]
    students: list[StudentRecord | StudentStructures]
    guardians: list[GuardianRecord | LinkRecord | AddressRecord]


def _decode(path: Path) -> str:
    """UTF-8 (BOM or not), else Windows-1252 (Excel), else ISO-8859-15 (decodes any byte)."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("iso-8859-15")


class _Row:
    def __init__(self, name: str, line: int, cells: list[str], problems: list[ImportFileError]):
        self.name, self.line, self.cells, self.problems = name, line, cells, problems

    def problem(self, column: str | None, message: str) -> None:
        self.problems.append(ImportFileError(self.name, message, line=self.line, field=column))

    def get(self, column: str) -> str | None:
        value = self.cells[COLUMNS.index(column)].strip()
        return value or None

    def required(self, column: str) -> str | None:
        value = self.get(column)
        if value is None:
            self.problem(column, "valeur obligatoire absente")
        return value

    def identifier(self, column: str) -> str | None:
        value = self.required(column)
        if value is not None and not _ID.match(value):
            self.problem(column, f"identifiant invalide « {value} » (1 à 20 lettres, chiffres, - ou _)")
            return None
        return value

    def date(self, column: str) -> date | None:
        value = self.required(column)
        if value is None:
            return None
        match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value)
        try:
            if match is None:
                raise ValueError
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        except ValueError:
            self.problem(column, f"date invalide « {value} » (attendu JJ/MM/AAAA)")
            return None


def read_csv_population(path: Path | str) -> CsvPopulation:
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ImportFileError(name, "fichier introuvable")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ImportFileError(name, f"fichier de plus de {MAX_CSV_BYTES // (1024 * 1024)} Mo, au-delà de la taille "
                                    "du fichier d'un établissement (voir docs/import-csv.md)")
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=";")
    try:
        return _read(name, reader)
    except csv.Error as error:  # chiefly a field longer than the csv module's limit (128 KB)
        message = (f"champ de plus de {csv.field_size_limit() // 1024} Ko : ce n'est pas un fichier d'élèves"
                   if "field limit" in str(error) else "fichier CSV illisible (guillemets ou séparateurs incorrects)")
        raise ImportFileError(name, message, line=reader.line_num) from None


def _read(name: str, reader) -> CsvPopulation:
    header = tuple(column.strip().lower() for column in next(reader, []))
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        detail = f"colonnes absentes : {', '.join(missing)}" if missing else "colonnes dans un autre ordre ou en trop"
        raise ImportFileError(
            name, f"ligne d'en-tête différente de celle attendue ({detail} ; voir docs/import-csv.md)", line=1
        )

    problems: list[ImportFileError] = []
    mefs: dict[str, MefRecord] = {}
    divisions: set[str] = set()
    groups: set[str] = set()
    students: list[StudentRecord | StudentStructures] = []
    guardians: dict[str, tuple[GuardianRecord, AddressRecord, int]] = {}
    links: list[LinkRecord] = []
    seen_students: dict[str, int] = {}
    seen_national_ids: dict[str, int] = {}

    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        row = _Row(name, line, cells, problems)
        if len(cells) != len(COLUMNS):
            row.problem(None, f"{len(cells)} champs au lieu de {len(COLUMNS)}")
            continue
        student_id = row.identifier("eleve_id")
        if student_id in seen_students:
            row.problem("eleve_id", f"l'élève {student_id} figure déjà ligne {seen_students[student_id]}")
            student_id = None
        national_id = row.get("ine")
        if national_id and national_id in seen_national_ids:
            row.problem("ine", f"l'INE {national_id} figure déjà ligne {seen_national_ids[national_id]}")
        sex = row.get("sexe")
        if sex is not None and sex.upper() not in _SEX:
            row.problem("sexe", f"sexe inconnu « {sex} » (attendu M, F, 1 ou 2)")
        last_name, first_name = row.required("nom"), row.required("prenom")
        birth_date, division = row.date("date_naissance"), row.required("division")
        mef_code = row.get("code_mef")
        student_groups = tuple(g.strip() for g in (row.get("groupes") or "").split(",") if g.strip())

        _read_guardians(row, student_id, guardians, links)

        if len(problems) >= MAX_REPORTED:
            break
        if student_id is None or last_name is None or first_name is None or birth_date is None or division is None:
            continue
        seen_students[student_id] = line
        if national_id:
            seen_national_ids[national_id] = line
        if mef_code and mef_code not in mefs:
            label = row.get("libelle_mef")
            mefs[mef_code] = MefRecord(mef_code, label, label, label, None, None)
        divisions.add(division)
        groups.update(student_groups)
        students.append(StudentRecord(
            siecle_id=student_id, elenoet=None, national_id=national_id, last_name=last_name,
            usage_name=row.get("nom_usage"), first_name=first_name, first_name_2=None, first_name_3=None,
            birth_date=birth_date, sex=_SEX.get(sex.upper()) if sex else None, mef_code=mef_code,
            entry_date=None, left_on=None, line=line,
        ))
        students.append(StudentStructures(student_id, division, student_groups))

    if not problems and not seen_students:
        problems.append(ImportFileError(name, "aucune ligne d'élève : l'import déclarerait tous les élèves partis"))
    if problems:
        raise ImportFileError.several(problems)
    structures = [StructureRecord("division", code, None) for code in sorted(divisions)]
    structures += [StructureRecord("group", code, None) for code in sorted(groups)]
    people: list[GuardianRecord | LinkRecord | AddressRecord] = [guardian for guardian, _, _ in guardians.values()]
    people += links
    people += [address for _, address, _ in guardians.values()]
    return CsvPopulation(list(mefs.values()), structures, students, people)


def _read_guardians(row: _Row, student_id: str | None, guardians: dict[str, tuple[GuardianRecord, AddressRecord, int]],
                    links: list[LinkRecord]) -> None:
    """The line's legal guardians 1 and 2: each described once in the file, linked to the student."""
    line = row.line
    couple_guardians = []
    for rank in (1, 2):
        prefix = f"resp{rank}_"
        guardian_id = row.get(prefix + "id")
        filled = [c for c in GUARDIAN_COLUMNS[1:] if row.get(prefix + c)]
        if guardian_id is None:
            if filled:
                row.problem(prefix + "id", "identifiant du responsable absent alors que ses colonnes sont remplies")
            continue
        if rank == 2 and row.get("resp1_id") is None:
            row.problem("resp1_id", "le responsable légal 2 est rempli mais pas le responsable légal 1")
        guardian_id = row.identifier(prefix + "id")
        civility = row.get(prefix + "civilite")
        if civility is not None and civility.upper() not in _CIVILITY:
            row.problem(prefix + "civilite", f"civilité inconnue « {civility} » (M. ou MME)")
        guardian_last, guardian_first = row.required(prefix + "nom"), row.required(prefix + "prenom")
        if guardian_id is None or guardian_last is None or guardian_first is None:
            continue
        if guardian_id in couple_guardians:
            row.problem(prefix + "id", f"le responsable {guardian_id} est à la fois responsable 1 et 2")
            continue
        couple_guardians.append(guardian_id)
        guardian = GuardianRecord(
            siecle_id=guardian_id, civility=_CIVILITY.get((civility or "").upper()), last_name=guardian_last,
            first_name=guardian_first, email=row.get(prefix + "mel"), phone_home=None,
            phone_mobile=row.get(prefix + "tel_portable"), phone_work=None, address_id=f"csv-{guardian_id}",
            line=line,
        )
        address = AddressRecord(
            f"csv-{guardian_id}",
            tuple(part.strip() for part in (row.get(prefix + "adresse") or "").split(", ") if part.strip())[:4],
            row.get(prefix + "code_postal"), row.get(prefix + "commune"), row.get(prefix + "pays") or "FRANCE",
        )
        if guardian_id in guardians and guardians[guardian_id][:2] != (guardian, address):
            row.problem(prefix + "id", f"le responsable {guardian_id} est décrit autrement ligne "
                                       f"{guardians[guardian_id][2]}")
            continue
        guardians.setdefault(guardian_id, (guardian, address, line))
        if student_id:
            links.append(LinkRecord(student_id, guardian_id, rank, None, False, line=line))
