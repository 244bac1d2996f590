"""Reading SIECLE « BEE » exports (A1): ElevesSansAdresses / ElevesAvecAdresses, 
ResponsablesAvecAdresses, Nomenclature and the structures export.

Files are read as streams (lxml `iterparse`; each record freed once read, and everything around
the records freed as soon as it is parsed), so memory stays flat however large the file. Real
exports are ISO-8859-15, often zipped; UTF-8 is accepted too. Ids come as attributes in some
exports and as child elements in others; unknown elements are ignored. Anything malformed raises
`ImportFileError` naming the file, the line, the element and the field.

An upload is untrusted: a zip or XML « bomb » must not exhaust the accounts process. Hence the
limits below, checked before anything is parsed (zip directory, declared sizes) and while reading
(bytes actually read), plus libxml2's own limits (no `huge_tree`: text nodes of 10 MB at most,
nesting 256 deep, bounded names). A school of 5,000 students exports about 8 MB of XML.
"""
from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import IO, Literal, overload
from collections.abc import Iterator

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

MB = 1024 * 1024
MAX_EXPORT_BYTES = 100 * MB  # one export, unzipped: ten times the largest school's
MAX_ZIP_RATIO = 200  # real exports compress 5 to 50 times; a bomb about 1,000 times
MAX_ZIP_ENTRIES = 100  # an export zip holds one file; each entry costs memory once listed
MAX_RECORD_BYTES = 1 * MB  # one record read whole (a student: about 1 KB)
MAX_TEXT_BYTES = 64 * 1024  # between two tags outside records (a text, a start tag)
# Records of one export (a student and where they sit count two): the importer keeps what it
# reads until the end of its transaction; a school of 5,000 students exports about 25,000.
MAX_RECORDS = 40_000
MAX_STRUCTURES_PER_STUDENT = 100  # a division and its groups: a dozen in practice
_CHUNK = 64 * 1024


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
    def several(cls, problems: list[ImportFileError]) -> ImportFileError:
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


class _LimitExceeded(Exception):
    """Raised from inside the parser's reads; turned into an ImportFileError that says where."""

    def __init__(self, message: str, *, in_record: bool = False):
        super().__init__(message)
        self.in_record = in_record


class _ExportStream:
    """The bytes of an export as the parser reads them: counted against the limits and, for a
    file that does not say its encoding, given to the parser as UTF-8.

    Such a file is UTF-8 or ISO-8859-15. The choice is made on the first chunk holding a
    non-ASCII byte (ASCII reads the same in both), so the file is read once, never ahead."""

    def __init__(self, raw: IO[bytes], *, undeclared_encoding: bool):
        self.raw, self.read_bytes, self.budget_from, self.budget = raw, 0, 0, MAX_TEXT_BYTES
        self.mode = "undecided" if undeclared_encoding else "as-is"

    def restart_budget(self, *, record: bool) -> None:
        """At a record's start tag (the record may take MAX_RECORD_BYTES), or at any tag outside
        records (the next one must come within MAX_TEXT_BYTES)."""
        self.budget_from, self.budget = self.read_bytes, MAX_RECORD_BYTES if record else MAX_TEXT_BYTES

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size and size > 0 else _CHUNK)
        self.read_bytes += len(data)
        if self.read_bytes > MAX_EXPORT_BYTES:
            raise _LimitExceeded(f"plus de {MAX_EXPORT_BYTES // MB} Mo (une fois décompressé), au-delà de la "
                                 "taille d'un export d'établissement")
        # The parser reads ahead of the tags it reports by one read at most: allow for it.
        if self.read_bytes - self.budget_from > self.budget + _CHUNK:
            if self.budget == MAX_RECORD_BYTES:
                raise _LimitExceeded(f"enregistrement de plus de {MAX_RECORD_BYTES // MB} Mo : ce n'est pas un "
                                     "export SIECLE", in_record=True)
            raise _LimitExceeded(f"plus de {MAX_TEXT_BYTES // 1024} Ko de texte entre deux balises : ce n'est "
                                 "pas un export SIECLE")
        if self.mode == "undecided" and not data.isascii():
            more = self.raw.read(3)  # a UTF-8 sequence cut by the read: complete it
            self.read_bytes += len(more)
            data += more
            try:
                codecs.getincrementaldecoder("utf-8")().decode(data)
                self.mode = "as-is"
            except UnicodeDecodeError:
                self.mode = "latin-9"
        if self.mode == "latin-9":
            return data.decode("iso-8859-15").encode("utf-8")
        return data


@dataclass(frozen=True)
class ExportFile:
    """One export on disk: an .xml, or a .zip holding exactly one .xml."""

    path: Path
    member: str | None  # the XML inside a zip
    undeclared_encoding: bool  # no XML declaration nor BOM says it: UTF-8 or ISO-8859-15, told by its bytes
    header: ExportHeader

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.member}" if self.member else self.path.name

    @contextmanager
    def open(self) -> Iterator[_ExportStream]:
        if self.member is None:
            with open(self.path, "rb") as raw:
                yield _ExportStream(raw, undeclared_encoding=self.undeclared_encoding)
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as raw:
                yield _ExportStream(raw, undeclared_encoding=self.undeclared_encoding)


# --- opening a file ------------------------------------------------------------------------------

_UNREADABLE_ZIP = "archive zip illisible ou incomplète"
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)  # also raised while reading a damaged member


def _zip_member(path: Path) -> str:
    """The one XML file of an export zip, once its directory and sizes are found reasonable."""
    try:
        with open(path, "rb") as raw:
            # What ZipFile itself will read (zip64 included), before it lists every entry in memory.
            end = zipfile._EndRecData(raw)  # type: ignore[attr-defined]  # CPython's own, absent from typeshed
        if end is None:
            raise zipfile.BadZipFile
        entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
        if entries > MAX_ZIP_ENTRIES or size > MAX_ZIP_ENTRIES * 1024:
            raise ImportFileError(path.name, f"archive de plus de {MAX_ZIP_ENTRIES} fichiers : un export SIECLE "
                                             "zippé contient un seul fichier XML")
        with zipfile.ZipFile(path) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
    except _ZIP_ERRORS:
        raise ImportFileError(path.name, _UNREADABLE_ZIP) from None
    members = [info for info in entries if info.filename.lower().endswith(".xml")]
    if len(members) != 1:
        nested = " ; une archive contenue dans l'archive n'est pas ouverte" if any(
            info.filename.lower().endswith(".zip") for info in entries) else ""
        raise ImportFileError(
            path.name, f"l'archive doit contenir un seul fichier XML (trouvé : {len(members)}){nested}"
        )
    [member] = members
    name = f"{path.name}:{member.filename}"
    if member.flag_bits & 0x1:
        raise ImportFileError(name, "fichier protégé par un mot de passe : enregistrez l'export sans mot de passe")
    if member.file_size > MAX_EXPORT_BYTES:
        raise ImportFileError(name, f"{member.file_size // MB} Mo une fois décompressé, au-delà de la limite de "
                                    f"{MAX_EXPORT_BYTES // MB} Mo : ce n'est pas l'export d'un établissement")
    if member.file_size > MAX_ZIP_RATIO * max(member.compress_size, 1):
        raise ImportFileError(name, f"compressé plus de {MAX_ZIP_RATIO} fois (archive piégée ?) : "
                                    "ce n'est pas un export SIECLE")
    return member.filename


def _declares_encoding(head: bytes) -> bool:
    return head.startswith(codecs.BOM_UTF8) or _DECLARED_ENCODING.match(head) is not None


def _parse_error(name: str, error: etree.XMLSyntaxError) -> ImportFileError:
    message = error.msg or str(error)
    if "depth" in message.lower():
        message = "éléments imbriqués sur plus de 256 niveaux : ce n'est pas un export SIECLE"
    elif "XML_PARSE_HUGE" in message or "huge" in message.lower():
        message = "texte de plus de 10 Mo : ce n'est pas un export SIECLE"
    elif "encoding" in message.lower() or "utf-8" in message.lower():
        message = f"encodage des caractères incorrect ({message})"
    else:
        message = f"XML mal formé ({message})"
    return ImportFileError(name, message, line=error.lineno)


def _free(element: etree._Element) -> None:
    """Drop an element already used, and its earlier siblings, from the tree being built."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _elements(export: ExportFile, tags: tuple[str, ...]) -> Iterator[tuple[str, etree._Element]]:
    """("root", the root element) once its start tag is read, then ("record", element) for each
    element named in `tags`, whole. Everything outside those records is freed as soon as it is
    parsed, so that no content, however shaped, piles up in memory."""
    with export.open() as stream:
        depth, record, last, count = 0, None, None, 0  # depth: records open (one inside another is yielded too)
        try:
            for event, element in etree.iterparse(
                    stream, events=("start", "end"), encoding="utf-8" if export.undeclared_encoding else None,
                    resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True):
                if event == "start":
                    if last is None:
                        yield "root", element
                    last = element
                    if element.tag in tags:
                        depth += 1
                        record = record if depth > 1 else element
                    if depth <= 1:
                        stream.restart_budget(record=depth == 1)
                    continue
                if depth and element.tag in tags:
                    depth -= 1
                    count += 1
                    if count > MAX_RECORDS:
                        raise ImportFileError(export.name, f"plus de {MAX_RECORDS:,} enregistrements".replace(",", " ")
                                              + ", au-delà de l'export d'un établissement",
                                              line=element.sourceline, element=element.tag)
                    yield "record", element
                elif depth:
                    continue  # part of the record being read
                _free(element)
                if not depth:
                    stream.restart_budget(record=False)
        except _LimitExceeded as limit:
            where = record if limit.in_record else last
            raise ImportFileError(export.name, str(limit),
                                  line=where.sourceline if where is not None else None,
                                  element=where.tag if limit.in_record and where is not None else None) from None
        except etree.XMLSyntaxError as error:
            raise _parse_error(export.name, error) from None
        except _ZIP_ERRORS:
            raise ImportFileError(export.name, _UNREADABLE_ZIP) from None


def _read_header(export: ExportFile) -> ExportHeader:
    root_tag, fields = None, {}
    for kind, element in _elements(export, ("PARAMETRES",)):
        if kind == "root":
            root_tag = element.tag
            if root_tag not in KINDS:
                raise ImportFileError(export.name, f"ce n'est pas un export SIECLE BEE reconnu (élément racine "
                                                   f"« {root_tag} »)", line=element.sourceline, element=root_tag)
        else:
            fields = {child.tag: _Record(export.name, element).text(child.tag) or "" for child in element
                      if child.tag in ("UAJ", "ANNEE_SCOLAIRE", "DATE_EXPORT")}
            break
    if root_tag is None:
        raise ImportFileError(export.name, "fichier vide")
    if not fields.get("UAJ"):
        raise ImportFileError(export.name, "le code UAJ de l'établissement manque", element="PARAMETRES", field="UAJ")
    return ExportHeader(root_tag, fields["UAJ"].upper(), fields.get("ANNEE_SCOLAIRE"), fields.get("DATE_EXPORT"))


def inspect_export(path: Path | str) -> ExportFile:
    """Open an export and read what it is (its root element) and which school it belongs to."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(path.name, "fichier introuvable")
    member = _zip_member(path) if zipfile.is_zipfile(path) else None
    unread = ExportFile(path, member, False, ExportHeader("", "", None, None))
    try:
        with unread.open() as stream:
            undeclared = not _declares_encoding(stream.raw.read(1024))
    except _ZIP_ERRORS:
        raise ImportFileError(unread.name, _UNREADABLE_ZIP) from None
    unread = replace(unread, undeclared_encoding=undeclared)
    return replace(unread, header=_read_header(unread))


# --- reading records -----------------------------------------------------------------------------

# The longest value each field may hold (the columns it is stored in); others: _MAX_CHARS_DEFAULT.
# SIECLE's own fields are shorter still; a longer value is a damaged or crafted file.
_MAX_CHARS = {
    **dict.fromkeys(("ELEVE_ID", "PERSONNE_ID", "ADRESSE_ID", "ELENOET", "CODE_STRUCTURE"), 40),
    **dict.fromkeys(("ID_NATIONAL", "CODE_MEF", "MEF_RATTACHEMENT", "CODE_MEFSTAT", "MEFSTAT", "CODE_MEFSTAT11",
                     "CODE_POSTAL"), 20),
    **dict.fromkeys(("LC_CIVILITE", "CODE_PARENTE"), 10),
    **dict.fromkeys(("TEL_PERSONNEL", "TEL_PORTABLE", "TEL_PROFESSIONNEL"), 40),
    **dict.fromkeys(("LIBELLE_LONG", "LIBELLE_EDITION"), 200),
    "MEL": 254,
}
_MAX_CHARS_DEFAULT = 100


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
        limit = _MAX_CHARS.get(name, _MAX_CHARS_DEFAULT)
        if len(value) > limit:
            raise ImportFileError(self.file, f"valeur de {len(value)} caractères, au-delà des {limit} permis",
                                  line=self.element.sourceline, element=self.element.tag, field=name)
        return value or None

    def error(self, field: str, message: str) -> ImportFileError:
        return ImportFileError(self.file, message, line=self.element.sourceline, element=self.where, field=field)

    @overload
    def text(self, *names: str, required: Literal[True]) -> str: ...

    @overload
    def text(self, *names: str, required: bool = False) -> str | None: ...

    def text(self, *names: str, required: bool = False) -> str | None:
        for name in names:
            value = self._raw(name)
            if value is not None:
                return value
        if required:
            raise self.error(names[0], "valeur obligatoire absente")
        return None

    @overload
    def date(self, name: str, *, required: Literal[True]) -> date: ...

    @overload
    def date(self, name: str, *, required: bool = False) -> date | None: ...

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
    for kind, element in _elements(export, tags):
        if kind == "record":
            yield element


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
            for number, structure in enumerate(element.iter("STRUCTURE"), start=1):
                if number > MAX_STRUCTURES_PER_STUDENT:
                    raise record.error("STRUCTURE", f"plus de {MAX_STRUCTURES_PER_STUDENT} divisions et groupes "
                                                    "pour un élève")
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
