"""Reading SIECLE « BEE » exports (A1): ElevesSansAdresses / ElevesAvecAdresses, 
ResponsablesAvecAdresses, Nomenclature and the structures export.

Files are read as streams (lxml `iterparse`, each record freed once read), so memory stays flat
however large the file. Real exports are ISO-8859-15, often zipped; UTF-8 is accepted too. Ids
come as attributes in some exports and as child elements in others; unknown elements are
ignored. Anything malformed raises `ImportFileError` naming the file, the line, the element and
the field.
"""
from __future__ import annotations

import codecs
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Iterator

from lxml import etree

from ts_accounts.domain.population import (
    AddressRecord, GuardianRecord, LinkRecord, MefRecord, StructureRecord, StudentRecord, StudentStructures,
)

STUDENTS, GUARDIANS, NOMENCLATURES, STRUCTURES = "BEE_ELEVES", "BEE_RESPONSABLES", "BEE_NOMENCLATURES", "BEE_STRUCTURES"
KINDS = {
    STUDENTS: "élèves",
    GUARDIANS: "responsables",
    NOMENCLATURES: "nomenclatures",
    STRUCTURES: "structures",
}
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class ImportFileError(Exception):
    """A file that cannot be imported; nothing of the import is kept. `problems` lists every
    error found when the whole file could be checked (CSV), else just this one."""

    def __init__(self, file: str, message: str, *, line: int | None = None, element: str | None = None,
                 field: str | None = None):
        self.file, self.message, self.line, self.element, self.field = file, message, line, element, field
        where = [file]
        if line:
            where.append(f"ligne {line}")
        if element:
            where.append(f"élément {element}")
        if field:
            where.append(f"champ {field}")
        super().__init__(f"{', '.join(where)} : {message}")
        self.problems: list[ImportFileError] = [self]

    @classmethod
    def several(cls, problems: list["ImportFileError"]) -> "ImportFileError":
        first = problems[0]
        error = cls(first.file, first.message, line=first.line, element=first.element, field=first.field)
        error.problems = list(problems)
        if len(problems) > 1:
            error.args = (f"{first} (et {len(problems) - 1} autre(s) erreur(s))",)
        return error


@dataclass(frozen=True)
class ExportHeader:
    kind: str
    uai: str
    school_year: str | None
    export_date: str | None


@dataclass(frozen=True)
class ExportFile:
    """One export on disk: an .xml, or a .zip holding exactly one .xml."""

    path: Path
    member: str | None  # the XML inside a zip
    encoding: str | None  # forced when the file does not declare its own
    header: ExportHeader

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.member}" if self.member else self.path.name

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        if self.member is None:
            with open(self.path, "rb") as stream:
                yield stream
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as stream:
                yield stream


# --- opening a file ------------------------------------------------------------------------------

def _zip_member(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info.filename for info in archive.infolist()
                       if not info.is_dir() and info.filename.lower().endswith(".xml")]
    except zipfile.BadZipFile:
        raise ImportFileError(path.name, "archive zip illisible ou incomplète") from None
    if len(members) != 1:
        raise ImportFileError(path.name, f"l'archive doit contenir un seul fichier XML (trouvé : {len(members)})")
    return members[0]


def _sniff_encoding(stream: BinaryIO) -> str | None:
    """None when the file says its encoding (or is valid UTF-8); ISO-8859-15 otherwise."""
    head = stream.read(1024)
    if head.startswith(codecs.BOM_UTF8) or _DECLARED_ENCODING.match(head):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = head
    try:
        while chunk:
            decoder.decode(chunk)
            chunk = stream.read(1 << 20)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "iso-8859-15"
    return None


def _parse_error(name: str, error: etree.XMLSyntaxError) -> ImportFileError:
    message = error.msg or str(error)
    if "encoding" in message.lower() or "utf-8" in message.lower():
        message = f"encodage des caractères incorrect ({message})"
    else:
        message = f"XML mal formé ({message})"
    return ImportFileError(name, message, line=error.lineno)


def _read_header(name: str, stream: BinaryIO, encoding: str | None) -> ExportHeader:
    root_tag, fields = None, {}
    try:
        for event, element in etree.iterparse(stream, events=("start", "end"), encoding=encoding,
                                              resolve_entities=False, no_network=True, huge_tree=True):
            if event == "start" and root_tag is None:
                root_tag = element.tag
                if root_tag not in KINDS:
                    raise ImportFileError(name, f"ce n'est pas un export SIECLE BEE reconnu (élément racine « {root_tag} »)",
                                          line=element.sourceline, element=root_tag)
            elif event == "end" and element.tag == "PARAMETRES":
                fields = {child.tag: (child.text or "").strip() for child in element}
                break
            elif event == "end" and element.tag == "DONNEES":
                break
    except etree.XMLSyntaxError as error:
        raise _parse_error(name, error) from None
    if root_tag is None:
        raise ImportFileError(name, "fichier vide")
    if not fields.get("UAJ"):
        raise ImportFileError(name, "le code UAJ de l'établissement manque", element="PARAMETRES", field="UAJ")
    return ExportHeader(root_tag, fields["UAJ"].upper(), fields.get("ANNEE_SCOLAIRE"), fields.get("DATE_EXPORT"))


def inspect_export(path: Path | str) -> ExportFile:
    """Open an export and read what it is (its root element) and which school it belongs to."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(path.name, "fichier introuvable")
    member = _zip_member(path) if zipfile.is_zipfile(path) else None
    probe = ExportFile(path, member, None, ExportHeader("", "", None, None))
    with probe.open() as stream:
        encoding = _sniff_encoding(stream)
    with probe.open() as stream:
        header = _read_header(probe.name, stream, encoding)
    return ExportFile(path, member, encoding, header)


# --- reading records -----------------------------------------------------------------------------

class _Record:
    """Typed access to one record element, with errors that say where."""

    def __init__(self, file: str, element: etree._Element, id_field: str | None = None):
        self.file, self.element = file, element
        self.id = self._raw(id_field) if id_field else None

    @property
    def where(self) -> str:
        return f"{self.element.tag} ({self.id})" if self.id else self.element.tag

    def _raw(self, name: str) -> str | None:
        value = self.element.get(name)
        if value is None:
            value = self.element.findtext(name)
        value = (value or "").strip()
        return value or None

    def error(self, field: str, message: str) -> ImportFileError:
        return ImportFileError(self.file, message, line=self.element.sourceline, element=self.where, field=field)

    def text(self, *names: str, required: bool = False) -> str | None:
        for name in names:
            value = self._raw(name)
            if value is not None:
                return value
        if required:
            raise self.error(names[0], "valeur obligatoire absente")
        return None

    def date(self, name: str, *, required: bool = False) -> date | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value) or re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
        try:
            if match is None:
                raise ValueError
            a, b, c = (int(part) for part in match.groups())
            return date(c, b, a) if "/" in value else date(a, b, c)
        except ValueError:
            raise self.error(name, f"date invalide « {value} » (attendu JJ/MM/AAAA)") from None


def _records(export: ExportFile, tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """The elements named `tags`, one at a time, freed after use."""
    with export.open() as stream:
        try:
            for _, element in etree.iterparse(stream, events=("end",), tag=tags, encoding=export.encoding,
                                              resolve_entities=False, no_network=True, huge_tree=True):
                yield element
                element.clear(keep_tail=False)
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
        except etree.XMLSyntaxError as error:
            raise _parse_error(export.name, error) from None


def _required_id(record: _Record, field: str) -> str:
    if record.id is None:
        raise record.error(field, "identifiant absent")
    return record.id


def iter_mefs(export: ExportFile) -> Iterator[MefRecord]:
    for element in _records(export, ("MEF",)):
        if element.getparent() is None or element.getparent().tag != "MEFS":
            continue
        record = _Record(export.name, element, "CODE_MEF")
        yield MefRecord(
            code=_required_id(record, "CODE_MEF"),
            short_label=record.text("LIBELLE_COURT"),
            long_label=record.text("LIBELLE_LONG"),
            edition_label=record.text("LIBELLE_EDITION"),
            attached_mef=record.text("MEF_RATTACHEMENT"),
            mefstat=record.text("CODE_MEFSTAT", "MEFSTAT", "CODE_MEFSTAT11"),
        )


def iter_structures(export: ExportFile) -> Iterator[StructureRecord]:
    for element in _records(export, ("DIVISION", "GROUPE")):
        parent = element.getparent()
        if parent is None or parent.tag not in ("DIVISIONS", "GROUPES"):
            continue  # e.g. a DIVISION_APPARTENANCE inside a group
        record = _Record(export.name, element, "CODE_STRUCTURE")
        yield StructureRecord(
            kind="division" if element.tag == "DIVISION" else "group",
            code=_required_id(record, "CODE_STRUCTURE"),
            label=record.text("LIBELLE_LONG", "LIBELLE_COURT"),
        )


_SEX = {"1": "M", "2": "F", "M": "M", "F": "F"}


def iter_students(export: ExportFile) -> Iterator[StudentRecord | StudentStructures]:
    """Students (section ELEVES) then where they sit (section STRUCTURES), in file order."""
    for element in _records(export, ("ELEVE", "STRUCTURES_ELEVE")):
        record = _Record(export.name, element, "ELEVE_ID")
        student_id = _required_id(record, "ELEVE_ID")
        if element.tag == "STRUCTURES_ELEVE":
            division, groups = None, []
            for structure in element.iter("STRUCTURE"):
                item = _Record(export.name, structure)
                code = item.text("CODE_STRUCTURE", required=True)
                kind = (item.text("TYPE_STRUCTURE") or "D").upper()
                if kind == "D":
                    division = code
                elif kind == "G":
                    groups.append(code)
                else:
                    raise item.error("TYPE_STRUCTURE", f"type de structure inconnu « {kind} » (attendu D ou G)")
            yield StudentStructures(student_id, division, tuple(groups))
            continue
        sex = record.text("CODE_SEXE")
        if sex is not None and sex.upper() not in _SEX:
            raise record.error("CODE_SEXE", f"code sexe inconnu « {sex} » (attendu 1 ou 2)")
        yield StudentRecord(
            siecle_id=student_id,
            elenoet=record.text("ELENOET"),
            national_id=record.text("ID_NATIONAL"),
            last_name=record.text("NOM_DE_FAMILLE", "NOM", required=True),
            usage_name=record.text("NOM_USAGE"),
            first_name=record.text("PRENOM", required=True),
            first_name_2=record.text("PRENOM2"),
            first_name_3=record.text("PRENOM3"),
            birth_date=record.date("DATE_NAISS", required=True),
            sex=_SEX.get(sex.upper()) if sex else None,
            mef_code=record.text("CODE_MEF"),
            entry_date=record.date("DATE_ENTREE"),
            left_on=record.date("DATE_SORTIE"),
            line=element.sourceline,
        )


def iter_guardians(export: ExportFile) -> Iterator[GuardianRecord | LinkRecord | AddressRecord]:
    """People (PERSONNES), their links to students (RESPONSABLES) and addresses (ADRESSES)."""
    for element in _records(export, ("PERSONNE", "RESPONSABLE_ELEVE", "ADRESSE")):
        if element.tag == "PERSONNE":
            record = _Record(export.name, element, "PERSONNE_ID")
            yield GuardianRecord(
                siecle_id=_required_id(record, "PERSONNE_ID"),
                civility=record.text("LC_CIVILITE"),
                last_name=record.text("NOM_DE_FAMILLE", "NOM", required=True),
                first_name=record.text("PRENOM") or "",
                email=record.text("MEL"),
                phone_home=record.text("TEL_PERSONNEL"),
                phone_mobile=record.text("TEL_PORTABLE"),
                phone_work=record.text("TEL_PROFESSIONNEL"),
                address_id=record.text("ADRESSE_ID"),
                line=element.sourceline,
            )
        elif element.tag == "RESPONSABLE_ELEVE":
            record = _Record(export.name, element)
            rank = record.text("RESP_LEGAL", required=True)
            if rank not in ("0", "1", "2"):
                raise record.error("RESP_LEGAL", f"« {rank} » n'est pas une qualité de responsable (0, 1 ou 2)")
            yield LinkRecord(
                student_siecle_id=record.text("ELEVE_ID", required=True),
                guardian_siecle_id=record.text("PERSONNE_ID", required=True),
                legal_rank=int(rank),
                relationship_code=record.text("CODE_PARENTE"),
                # Exports name it either way.
                is_contact=(record.text("PERSONNE_CONTACT", "PERS_CONTACT") or "0") == "1",
                line=element.sourceline,
            )
        else:
            parent = element.getparent()
            if parent is None or parent.tag != "ADRESSES":
                continue
            record = _Record(export.name, element, "ADRESSE_ID")
            lines = tuple(line for line in (record.text(f"LIGNE{n}_ADRESSE") for n in range(1, 5)) if line)
            foreign_city = record.text("COMMUNE_ETRANGERE")
            yield AddressRecord(
                address_id=_required_id(record, "ADRESSE_ID"),
                lines=lines,
                postal_code=record.text("CODE_POSTAL"),
                city=record.text("LIBELLE_POSTAL") or foreign_city,
                country=record.text("LL_PAYS"),
            )
