"""Issue 9, finding 4: zip and XML « bombs ». An uploaded export is untrusted: whatever its shape,
the console and the API refuse it with a French error naming the file, nothing changes, and the
accounts process keeps its memory (a 204 KB zip holding a 200 MB text once took it to 1.7 GB)."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from werkzeug.test import Client

from support.console import csrf
from support.settings import environment_for
from support.siecle_files import ADDRESSES, LINKS, PARAMS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters import siecle
from ts_accounts.adapters.csv_population import COLUMNS
from ts_accounts.adapters.orm import Account, Guardian, Student
from ts_accounts.adapters.siecle import ImportFileError, inspect_export, iter_guardians, iter_students
from ts_accounts.demo.synthetic_siecle import generate_school, write_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff

MIB = 1024 * 1024
HEAD = ("chef.demo", "une longue phrase de passe")
REFUSED = "Import refusé : aucune donnée n'a été modifiée."


# --- the files -------------------------------------------------------------------------------------

def export_xml(records: bytes = b"", *, around: bytes = b"") -> bytes:
    """A students export (UTF-8): `records` inside ELEVES, `around` between ELEVES and STRUCTURES."""
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<BEE_ELEVES VERSION="3.1">\n'
            + PARAMS.format(uai=UAI).encode() + b"\n<DONNEES>\n<ELEVES>\n" + records + b"\n</ELEVES>\n"
            + around + b"\n<STRUCTURES></STRUCTURES>\n</DONNEES>\n</BEE_ELEVES>\n")


def student(name: bytes = b"DUPONT", *, structures: bytes = b"", student_id: int = 1001) -> bytes:
    return (
        b'<ELEVE ELEVE_ID="%d"><NOM_DE_FAMILLE>' % student_id + name + b"</NOM_DE_FAMILLE><PRENOM>L\xc3\xa9a</PRENOM>"
        b"<DATE_NAISS>12/03/2013</DATE_NAISS></ELEVE>" + structures
    )


def write_text_bomb(path: Path, mib: int) -> Path:
    """A student named by `mib` MiB of « A », zipped (streamed: the test never holds it)."""
    head, tail = export_xml(student(b"\0")).split(b"\0")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("ElevesSansAdresses.xml", "w", force_zip64=True) as member:
        member.write(head)
        block = b"A" * MIB
        for _ in range(mib):
            member.write(block)
        member.write(tail)
    return path


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def csv_file(*rows: str) -> bytes:
    return ("\r\n".join([";".join(COLUMNS), *rows]) + "\r\n").encode("utf-8")


CSV_ROW = "E1;Dupont;;Léa;25/05/2015;F;;;6A;;;R1;MME;Dupont;Hélène;;;;;;;;;;;;;;;;"


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, tuple[str, bytes | Path, str]]:
    """Each crafted upload: (format, content or path, what the refusal says)."""
    folder = tmp_path_factory.mktemp("bombs")
    return {
        # The reported attack: 204 KB of zip, 200 MiB of text once unzipped.
        "zip of a 200 MiB text": (
            "siecle",
            write_text_bomb(folder / "ElevesSansAdresses.zip", 200),
            "ElevesSansAdresses.zip:ElevesSansAdresses.xml : 200 Mo une fois décompressé, "
            "au-delà de la limite de 100 Mo",
        ),
        "zip compressed 1,000 times": (
            "siecle",
            write_text_bomb(folder / "Eleves.zip", 20),
            "Eleves.zip:ElevesSansAdresses.xml : compressé plus de 200 fois",
        ),
        "zip of many files": (
            "siecle",
            zipped({**{f"vide{n}.txt": b"" for n in range(150)}, "ElevesSansAdresses.xml": export_xml(student())}),
            "Eleves.zip : archive de plus de 100 fichiers",
        ),
        "zip in a zip": (
            "siecle",
            zipped({"ElevesSansAdresses.zip": zipped({"Eleves.xml": export_xml(student())})}),
            "Eleves.zip : l'archive doit contenir un seul fichier XML (trouvé : 0) ; une archive "
            "contenue dans l'archive n'est pas ouverte",
        ),
        "a 2 MiB name": (
            "siecle",
            export_xml(student(b"A" * 2 * MIB)),
            "Eleves.xml, ligne 6, élément ELEVE : enregistrement de plus de 1 Mo",
        ),
        "a 2 MiB text between records": (
            "siecle",
            export_xml(student(), around=b"<X>" + b"B" * 2 * MIB + b"</X>"),
            "Eleves.xml, ligne 8 : plus de 64 Ko de texte entre deux balises",
        ),
        "5,000 nested elements": (
            "siecle",
            export_xml(student(), around=b"<div>" * 5000 + b"</div>" * 5000),
            "Eleves.xml, ligne 8 : éléments imbriqués sur plus de 256 niveaux",
        ),
        "a name longer than its column": (
            "siecle",
            export_xml(student(b"N" * 101)),
            "Eleves.xml, ligne 6, élément ELEVE, champ NOM_DE_FAMILLE : valeur de "
            "101 caractères, au-delà des 100 permis",
        ),
        "a student in 101 groups": (
            "siecle",
            export_xml(
                student(
                    structures=b'<STRUCTURES_ELEVE ELEVE_ID="1001">'
                    + b"".join(
                        b"<STRUCTURE><CODE_STRUCTURE>G%d</CODE_STRUCTURE><TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>"
                        % n
                        for n in range(101)
                    )
                    + b"</STRUCTURES_ELEVE>"
                )
            ),
            "champ STRUCTURE : plus de 100 divisions et groupes pour un élève",
        ),
        "a CSV field of 200 KB": (
            "csv",
            csv_file(CSV_ROW.replace("Dupont;;", "Dupont;" + "x" * 200_000 + ";", 1)),
            "Eleves.csv, ligne 2 : champ de plus de 128 Ko",
        ),
        "a CSV file of 11 MiB": (
            "csv",
            csv_file(*[CSV_ROW] * (11 * MIB // len(CSV_ROW))),
            "Eleves.csv : fichier de plus de 10 Mo",
        ),
    }


def file_name(kind: str, content) -> str:
    if isinstance(content, Path):
        return content.name
    return "Eleves.csv" if kind == "csv" else "Eleves.zip" if content[:2] == b"PK" else "Eleves.xml"


# --- the school and its staff ----------------------------------------------------------------------

def seed(platform, folder):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login=HEAD[0], display_name="Mme Martin", password=HEAD[1], head_of=UAI)
        activate_services(uow, UAI)
        uow.commit()
    files = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(
            uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]), actor="test"
        )
        uow.commit()


@pytest.fixture
def client(platform):
    client = Client(platform.app("accounts"))
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": csrf(page.text), "login": HEAD[0], "password": HEAD[1]})
    assert response.status_code == 302
    return client


def population(platform) -> tuple:
    with platform.runtime("accounts").uow() as uow:
        return tuple(
            uow.session.scalar(select(func.count()).select_from(model)) for model in (Student, Guardian, Account)
        ) + (sorted(uow.session.scalars(select(Student.last_name))),)


def upload(client, channel: str, kind: str, content) -> tuple[int, str]:
    """Send one file through the console's import page or the API; (status, French text shown)."""
    name = file_name(kind, content)
    data = content.read_bytes() if isinstance(content, Path) else content
    if channel == "console":
        page = client.get("/admin/import")
        response = client.post("/admin/import", data={"csrf_token": csrf(page.text), "format": kind,
                                                      "files": (io.BytesIO(data), name)})
        return response.status_code, response.text
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    response = client.post(f"/api/v1/imports?format={kind}", data={"files": (io.BytesIO(data), name)},
                           headers={"X-CSRFToken": token})
    return response.status_code, response.json["error"] if response.is_json else response.text


# --- through HTTP: a French error naming the file, nothing changed ---------------------------------

CASES = ["zip of a 200 MiB text", "zip compressed 1,000 times", "zip of many files", "zip in a zip", "a 2 MiB name",
         "a 2 MiB text between records", "5,000 nested elements", "a name longer than its column",
         "a student in 101 groups", "a CSV field of 200 KB", "a CSV file of 11 MiB"]


@pytest.mark.parametrize("case", CASES)
def test_the_console_refuses_a_crafted_upload_in_french_naming_the_file_and_changes_nothing(
        platform, client, bombs, case):
    kind, content, message = bombs[case]
    before = population(platform)
    status, page = upload(client, "console", kind, content)
    assert status == 200
    assert str(escape(REFUSED)) in page and str(escape(message)) in page
    assert population(platform) == before


@pytest.mark.parametrize("case", CASES)
def test_the_api_refuses_a_crafted_upload_with_a_french_400_naming_the_file_and_changes_nothing(
        platform, client, bombs, case):
    kind, content, message = bombs[case]
    before = population(platform)
    status, error = upload(client, "api", kind, content)
    assert status == 400
    assert error.startswith("Import refusé, aucune donnée modifiée : ") and message in error
    assert population(platform) == before


def test_an_export_of_more_records_than_a_school_has_is_refused(platform, client, monkeypatch):
    monkeypatch.setattr(siecle, "MAX_RECORDS", 3)  # the real limit, 40,000, takes a while to reach
    before = population(platform)
    status, error = upload(client, "api", "siecle", export_xml(b"\n".join(student(student_id=n) for n in range(4))))
    assert status == 400 and "Eleves.xml, ligne 9, élément ELEVE : plus de 3 enregistrements" in error
    assert population(platform) == before


# --- memory: the real import, in its own process, under 300 MB --------------------------------------

# tsctl, reporting its peak memory as it ends. VmHWM (the peak of this process's own memory), not
# getrusage: Linux carries the peak of the process that forked it (pytest, hundreds of MB after a
# long run) into ru_maxrss across exec, for RUSAGE_SELF and RUSAGE_CHILDREN alike.
MEASURED_IMPORT = """
import re, runpy, sys
try:
    runpy.run_module("ts_shared.runtime.cli", run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
    print(f"peak_rss_mb={peak_kb // 1024}", file=sys.stderr)
"""


def write_junk(path: Path, mib: int) -> Path:
    """As much as an export may hold (under 100 MB), every byte in small elements outside the records."""
    head, tail = export_xml().split(b"<STRUCTURES>")
    item = b'<X a="' + b"c" * 90 + b'"/>\n'
    with open(path, "wb") as out:
        out.write(head)
        for _ in range(mib * MIB // len(item) // 1000):
            out.write(item * 1000)
        out.write(b"<STRUCTURES>" + tail)
    return path


def write_plain_text_bomb(path: Path, mib: int) -> Path:
    head, tail = export_xml(student(b"\0")).split(b"\0")
    with open(path, "wb") as out:
        out.write(head)
        for _ in range(mib):
            out.write(b"A" * MIB)
        out.write(tail)
    return path


@pytest.mark.parametrize("make,refusal", [
    (lambda folder: write_text_bomb(folder / "ElevesSansAdresses.zip", 200),
     "Fichier rejeté — ElevesSansAdresses.zip:ElevesSansAdresses.xml : 200 Mo une fois décompressé"),
    (lambda folder: write_plain_text_bomb(folder / "Eleves.xml", 50),
     "Fichier rejeté — Eleves.xml, ligne 6, élément ELEVE : enregistrement de plus de 1 Mo"),
    (lambda folder: write_junk(folder / "Eleves.xml", 95), None),  # within every limit: read to its end
], ids=["zip of a 200 MiB text", "plain 50 MiB text", "95 MiB outside the records"])
def test_importing_a_bomb_keeps_the_accounts_process_under_300_mb(platform, tmp_path, make, refusal):
    path = make(tmp_path)
    # --confirm-departures: the one student of these files replaces the school's (what counts is memory).
    result = subprocess.run([sys.executable, "-c", MEASURED_IMPORT, "import", "siecle", "--uai", UAI,
                             "--confirm-departures", str(path)],
                            env={**os.environ, **environment_for(platform.settings)}, capture_output=True, text=True,
                            timeout=600)
    peak_mb = int(re.search(r"peak_rss_mb=(\d+)", result.stderr).group(1))
    if refusal:
        assert result.returncode == 1 and refusal in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
    assert peak_mb < 300


# --- real exports still pass -----------------------------------------------------------------------

def test_the_zipped_exports_of_a_school_of_5000_students_are_within_every_limit(tmp_path):
    school = generate_school(UAI, 5000, seed=3, kind="lycee")
    files = {path.stem: inspect_export(path) for path in write_export(school, tmp_path, zipped=True)}
    students = sum(1 for _ in iter_students(files["ElevesSansAdresses"]))
    guardians = sum(1 for _ in iter_guardians(files["ResponsablesAvecAdresses"]))
    assert students == 2 * 5000 and guardians < siecle.MAX_RECORDS / 1.5


def test_a_damaged_zip_member_is_refused_as_unreadable(tmp_path):
    path = tmp_path / "ElevesSansAdresses.zip"
    path.write_bytes(zipped({"ElevesSansAdresses.xml": export_xml(student())}))
    damaged = bytearray(path.read_bytes())
    start = damaged.index(b"ElevesSansAdresses.xml") + len("ElevesSansAdresses.xml")
    damaged[start + 20:start + 40] = b"\xff" * 20  # inside the compressed data
    path.write_bytes(bytes(damaged))
    with pytest.raises(ImportFileError, match="ElevesSansAdresses.zip:ElevesSansAdresses.xml : archive zip illisible"):
        list(iter_students(inspect_export(path)))
