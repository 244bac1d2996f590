"""A1, A3, B1, B8, I3: importing SIECLE exports and CSV files, and the accounts that follow."""
from __future__ import annotations

import zipfile
from datetime import datetime, UTC

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ts_accounts.adapters.orm import Account, Guardian, GuardianLink, Student
from ts_accounts.adapters.siecle import ImportFileError, inspect_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.listing import CSV_HEADER, school_accounts
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_shared.runtime.cli import cli

from support.siecle_files import (  # noqa: F401 (fixtures shared with the identity tests)
    ADDRESSES, LINKS, OTHER_UAI, PEOPLE, STUDENTS, UAI, guardians_file, student_xml, students_file,
)


def seed(platform, folder):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        uow.commit()


@pytest.fixture
def files(tmp_path):
    return [students_file(tmp_path / "ElevesSansAdresses.xml", STUDENTS),
            guardians_file(tmp_path / "ResponsablesAvecAdresses.xml", PEOPLE, LINKS, ADDRESSES)]


def run_import(platform, paths, uai=UAI, now=datetime(2026, 9, 2, 8, 0, tzinfo=UTC)):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        report = import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(p) for p in paths]),
                                   actor="test", clock=lambda: now)
        events = uow.pending_events
        uow.commit()
    return report, events


def logins(platform, uai=UAI):
    with platform.runtime("accounts").uow() as uow:
        return {(r.kind, r.student_id, r.guardian_id): r.login for r in school_accounts(uow.session, uai)}


def count(platform, model, *where):
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def test_an_import_creates_the_people_and_one_account_per_student_and_legal_guardian_couple(platform, files):
    report, events = run_import(platform, files)
    assert report.created == {"élèves": 4, "responsables": 5}
    assert report.rejected == []
    assert logins(platform) == {
        ("student", "1001", None): "lea.dupont",
        ("student", "1003", None): "lea.dupont1",
        ("student", "1004", None): "hugo.dupont",
        ("student", "1002", None): "mael.n-diaye",
        ("guardian", "1001", "9001"): "helene.dupont",
        ("guardian", "1004", "9001"): "helene.dupont1",  # one account per child until merged
        ("guardian", "1001", "9002"): "jean.dupont",
        ("guardian", "1004", "9002"): "jean.dupont2",
        ("guardian", "1003", "9005"): "jean.dupont1",
        ("guardian", "1002", "9003"): "awa.n-diaye",
    }  # the grandmother (legal rank 0) has no account
    assert report.accounts_created == 10
    assert [e.type for e in events] == ["account.created"] * 10
    created = {e.payload["account"]["login"]: e.payload["account"] for e in events}
    assert created["helene.dupont"]["state"] == "not_notified"
    assert created["helene.dupont"]["children"] == [{
        "school_uai": UAI, "student_id": "1001", "guardian_id": "9001", "legal_rank": 1, "division": "3A",
        "mef_code": "10310019110", "mef_label": None, "mefstat": None,  # no nomenclature file imported
        "kept_from_previous_school": False}]
    with platform.runtime("accounts").uow() as uow:
        helene = uow.session.scalar(select(Guardian).where(Guardian.siecle_id == "9001"))
        assert helene.address_lines == ["3 rue des Lilas"] and helene.city == "NANCY"
        lea = uow.session.scalar(select(Student).where(Student.siecle_id == "1001"))
        assert (lea.division, lea.groups, lea.first_name) == ("3A", ["LATIN"], "Léa")
        # No temporary password exists before notification (B3).
        assert uow.session.scalar(select(func.count()).select_from(Account).where(
            (Account.credential_serial > 0) | Account.temporary_password_issued_at.is_not(None))) == 0


def test_importing_the_same_files_again_changes_nothing(platform, files):
    run_import(platform, files)
    before = logins(platform)
    report, events = run_import(platform, files)
    assert report.created == {} and report.updated == {} and report.departed == {}
    assert report.unchanged == {"élèves": 4, "responsables": 5}
    assert events == [] and report.accounts_created == 0
    assert logins(platform) == before


def test_a_new_export_updates_adds_arrivals_and_marks_departures(platform, files, tmp_path):
    run_import(platform, files)
    students = [
        student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3C", ine="1234567890A"),  # changed division
        STUDENTS[1],
        student_xml("1004", "DUPONT", "Hugo", "30/11/2014", "4A", ine="4234567890D", mef="10210001110",
                    left="15/10/2026"),  # leaves
        student_xml("1005", "Le Gall", "Éloïse", "02/02/2013", "3A"),  # arrives; 1003 is no longer listed
    ]
    people = PEOPLE[:4] + [("9006", "M.", "LE GALL", "Yann", "yann@example.org", None)]
    links = [("1001", "9001", 1), ("1001", "9002", 2), ("1002", "9003", 2), ("1005", "9006", 1)]
    paths = [
        students_file(tmp_path / "e2.xml", students),
        guardians_file(tmp_path / "r2.xml", people, links, ADDRESSES),
    ]
    report, events = run_import(platform, paths, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert report.created == {"élèves": 1, "responsables": 1}
    assert report.updated == {"élèves": 1}
    assert report.departed == {"élèves": 2, "responsables": 1}
    current = logins(platform)
    assert ("student", "1005", None) in current and ("guardian", "1005", "9006") in current
    assert ("student", "1003", None) not in current and ("student", "1004", None) not in current
    assert ("guardian", "1004", "9001") not in current and ("guardian", "1003", "9005") not in current
    assert report.account_links_ended == 5  # 1003 + its guardian, 1004 + its two guardians
    updated = {e.payload["account"]["login"]: e.payload["account"] for e in events if e.type == "account.updated"}
    assert updated["lea.dupont"]["children"][0]["division"] == "3C"
    assert updated["awa.n-diaye"]["children"][0]["legal_rank"] == 2
    assert updated["lea.dupont1"]["children"] == []  # left: serves nobody here, kept for continuity
    # Accounts of departed students stay open (B8); no login is ever reused.
    assert count(platform, Account, Account.closed_at.is_not(None)) == 0


def test_a_student_moving_to_another_school_of_the_academy_keeps_the_accounts(platform, files, tmp_path):
    run_import(platform, files)
    with platform.runtime("accounts").uow() as uow:
        activate_services(uow, OTHER_UAI)  # continuity needs online services open in the new school
        uow.commit()
    # The collège records Léa's departure (B8: continuity only for a student who has left).
    run_import(platform, [students_file(tmp_path / "college-e.xml", STUDENTS[1:]),
                          guardians_file(tmp_path / "college-r.xml", PEOPLE, LINKS[2:], ADDRESSES)])
    moved = [student_xml("77001", "DUPONT", "Léa", "12/03/2013", "2DE1", ine="1234567890A", mef="20010017110")]
    # Each guardian is the same person as in the collège: same name AND the same email or address.
    people = [("88001", "MME", "Dupont", "Hélène", "helene.dupont@example.org", None),
              ("88002", "M.", "DUPONT", "Jean", None, "77")]
    paths = [students_file(tmp_path / "lycee-e.xml", moved, uai=OTHER_UAI),
             guardians_file(tmp_path / "lycee-r.xml", people, [("77001", "88001", 1), ("77001", "88002", 2)],
                            ADDRESSES, uai=OTHER_UAI)]
    report, events = run_import(platform, paths, uai=OTHER_UAI)
    assert report.accounts_created == 0 and report.accounts_kept_from_previous_school == 3
    assert logins(platform, OTHER_UAI) == {("student", "77001", None): "lea.dupont",
                                           ("guardian", "77001", "88001"): "helene.dupont",
                                           ("guardian", "77001", "88002"): "jean.dupont"}
    with platform.runtime("accounts").uow() as uow:
        rows = school_accounts(uow.session, OTHER_UAI)
    assert all(row.kept_from_previous_school for row in rows)  # shown in red to staff
    assert ("student", "1001", None) not in logins(platform, UAI)  # the old school's link ended
    kept = {e.payload["account"]["login"]: e.payload["account"] for e in events}
    assert kept["lea.dupont"]["children"][0]["school_uai"] == OTHER_UAI


@pytest.mark.parametrize("encoding", ["ISO-8859-15", "UTF-8"])
def test_exports_in_iso_8859_15_or_utf_8_zipped_or_not_and_with_ids_as_elements_are_read_alike(
        platform, tmp_path, encoding):
    students = [student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3A", id_style="element"),
                student_xml("1002", "Œuvray", "Zoé", "01/01/2012", "3B", id_style="element")]
    xml = students_file(tmp_path / "ElevesSansAdresses.xml", students, encoding=encoding)
    archive = tmp_path / "ElevesSansAdresses.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(xml, xml.name)
    report, _ = run_import(platform, [archive])
    assert report.files == ["ElevesSansAdresses.zip:ElevesSansAdresses.xml"]
    assert logins(platform) == {("student", "1001", None): "lea.dupont", ("student", "1002", None): "zoe.oeuvray"}


def test_a_file_without_encoding_declaration_in_iso_8859_15_is_recognised(platform, tmp_path):
    path = tmp_path / "e.xml"
    students_file(path, [student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3A")])
    path.write_bytes(path.read_bytes().split(b"?>", 1)[1])  # drop the XML declaration
    run_import(platform, [path])
    assert logins(platform) == {("student", "1001", None): "lea.dupont"}


@pytest.mark.parametrize("encoding", ["ISO-8859-15", "UTF-8"])
@pytest.mark.parametrize("offset", [0, 32_766, 32_767, 60_000])
def test_a_file_without_encoding_declaration_is_told_by_its_first_accent_wherever_it_comes(
        platform, tmp_path, encoding, offset):
    # The encoding is chosen as the file is read (never by reading it whole first): an accent far
    # into the file, or a UTF-8 letter cut between two reads, is still read right.
    path = tmp_path / "e.xml"
    students_file(path, [student_xml("1001", "DUPONT", "Zoé", "12/03/2013", "3A")], encoding=encoding)
    content = path.read_bytes().split(b"?>", 1)[1]
    accent = content.index("Zoé".encode(encoding)) + 2
    padding = b" " * max(offset - accent, 0)  # spaces before the records push the accent to `offset`
    position = content.index(b"<ELEVES>")
    path.write_bytes(content[:position] + padding + content[position:])
    run_import(platform, [path])
    with platform.runtime("accounts").uow() as uow:
        assert uow.session.scalar(select(Student.first_name)) == "Zoé"


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda b: b.replace(b"<DATE_NAISS>12/03/2013", b"<DATE_NAISS>31/02/2013"),
            "ligne 6, élément ELEVE (1001), champ DATE_NAISS : date invalide « 31/02/2013 »",
        ),
        (
            lambda b: b.replace(b"<PRENOM>Ma", b"<PRENOX>Ma").replace(
                b"</PRENOM><DATE_NAISS>01/01/2012", b"</PRENOX><DATE_NAISS>01/01/2012"
            ),
            "ligne 7, élément ELEVE (1002), champ PRENOM : valeur obligatoire absente",
        ),
        (lambda b: b.replace(b"</ELEVES>", b"</ELEVE>"), "XML mal formé"),
        (lambda b: b.replace(b"<UAJ>0541234X", b"<UAJ>0999999Z"), "cet export est celui de l'établissement 0999999Z"),
        (lambda b: b.replace(b"BEE_ELEVES", b"BEE_AUTRE"), "ce n'est pas un export SIECLE BEE reconnu"),
        (
            lambda b: b.replace(
                "Maël".encode("iso-8859-15"),
                "Maël".encode("iso-8859-15") + b"\xff\xfe".decode("latin-1").encode("utf-8"),
            ).replace(b"ISO-8859-15", b"UTF-8"),
            "encodage des caractères incorrect",
        ),
    ],
)
def test_a_corrupted_file_changes_nothing_and_says_where_it_is_wrong(platform, files, tmp_path, mutate, message):
    run_import(platform, files)
    before = (logins(platform), count(platform, Student), count(platform, Guardian), count(platform, GuardianLink))
    students = [student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3A"), STUDENTS[1],
                student_xml("1099", "NOUVEAU", "Élève", "01/01/2013", "3A")]
    path = students_file(tmp_path / "bad.xml", students)
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(ImportFileError) as raised:
        run_import(platform, [path])
    assert message in str(raised.value) and str(raised.value).startswith("bad.xml")
    assert (
        logins(platform),
        count(platform, Student),
        count(platform, Guardian),
        count(platform, GuardianLink),
    ) == before


def test_a_link_to_an_unknown_student_is_rejected_with_its_reason_and_the_rest_imported(platform, files, tmp_path):
    path = guardians_file(tmp_path / "r.xml", PEOPLE, LINKS + [("5555", "9003", 1)], ADDRESSES)
    report, _ = run_import(platform, [files[0], path])
    [rejection] = report.rejected
    assert rejection.record == "responsable 9003" and "élève 5555" in rejection.reason
    assert rejection.source.startswith("r.xml, ligne")
    assert report.accounts_created == 10


def test_the_ops_listing_prints_the_documented_csv_header_and_rows(platform, files, tmp_path, monkeypatch):
    run_import(platform, files)
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["accounts", "list", "--uai", UAI, "--division", "3A", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ",".join(CSV_HEADER) == (
        "kind,login,state,student_id,student_name,division,legal_rank,guardian_id,notified_at,notification_mode,last_login_at")
    assert lines[1:] == ["student,lea.dupont,not_notified,1001,DUPONT Léa,3A,,,,,",
                         "guardian,helene.dupont,not_notified,1001,DUPONT Léa,3A,1,9001,,,",
                         "guardian,jean.dupont,not_notified,1001,DUPONT Léa,3A,2,9002,,,"]


def test_tsctl_import_exits_non_zero_on_a_rejected_file_and_says_nothing_changed(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    bad = students_file(tmp_path / "e.xml", [student_xml("1001", "DUPONT", "Léa", "1/3/2013", "3A")])
    result = CliRunner().invoke(cli, ["import", "siecle", "--uai", UAI, str(bad)])
    assert result.exit_code == 1
    assert "Fichier rejeté — e.xml, ligne" in result.output and "champ DATE_NAISS" in result.output
    assert "aucune donnée n'a été modifiée" in result.output
    assert count(platform, Student) == 0
    good = students_file(tmp_path / "e.xml", [student_xml("1001", "DUPONT", "Léa", "01/03/2013", "3A")])
    result = CliRunner().invoke(cli, ["import", "siecle", "--uai", UAI, str(good)])
    assert result.exit_code == 0 and "comptes créés 1" in result.output


def test_the_duplicates_report_lists_probable_duplicates_and_warns_about_active_accounts(
    platform, tmp_path, monkeypatch
):
    people = PEOPLE + [("9010", "MME", "Dupont", "Helene", "helene.dupont@example.org", None)]
    links = LINKS + [("1003", "9010", 2)]
    run_import(
        platform, [students_file(tmp_path / "e.xml", STUDENTS), guardians_file(tmp_path / "r.xml", people, links)]
    )
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        account.state = "used"
        uow.commit()
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["duplicates", "--uai", UAI])
    assert result.exit_code == 0, result.output
    assert "groupe(s) de doublons probables" in result.output
    assert "même adresse électronique ; même nom et prénom" in result.output
    assert "9001 DUPONT Hélène" in result.output and "compte activé : ne pas supprimer cette fiche" in result.output
    assert "9010 Dupont Helene" in result.output
    # The two different Jean Dupont records (different emails) are reported by name only.
    assert "9002 DUPONT Jean" in result.output and "9005 DUPONT Jean" in result.output


CSV_HEADER_LINE = ("eleve_id;nom;nom_usage;prenom;date_naissance;sexe;code_mef;libelle_mef;division;groupes;ine;"
                   "resp1_id;resp1_civilite;resp1_nom;resp1_prenom;resp1_mel;resp1_tel_portable;resp1_adresse;"
                   "resp1_code_postal;resp1_commune;resp1_pays;resp2_id;resp2_civilite;resp2_nom;resp2_prenom;"
                   "resp2_mel;resp2_tel_portable;resp2_adresse;resp2_code_postal;resp2_commune;resp2_pays")
CSV_ROW_1 = ("E1;de La Tour;;Éloïse;25/05/2015;F;10010012110;6EME;6A;;;R1;Monsieur;de La Tour;Loïc;loic@example.org;"
             "06 16 92 69 71;96 impasse des Lilas;54320;MAXEVILLE;;R2;Mme;Martin-Lefèvre;Bénédicte;;;;;;")
CSV_ROW_2 = ("E2;de La Tour;;Jean-Baptiste;23/01/2014;M;10110001110;5EME;5A;ESP5;;R1;Monsieur;de La Tour;Loïc;"
             "loic@example.org;06 16 92 69 71;96 impasse des Lilas;54320;MAXEVILLE;;;;;;;;;;;")


def _csv(tmp_path, *rows, encoding="utf-8"):
    path = tmp_path / "eleves.csv"
    path.write_bytes(("\r\n".join([CSV_HEADER_LINE, *rows]) + "\r\n").encode(encoding))
    return path


def test_a_csv_file_saved_by_excel_in_windows_1252_imports_with_its_accents(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    path = _csv(tmp_path, CSV_ROW_1.replace("Lilas", "Lilas’"), CSV_ROW_2.replace("Lilas", "Lilas’"), encoding="cp1252")
    result = CliRunner().invoke(cli, ["import", "csv", "--uai", UAI, str(path)])
    assert result.exit_code == 0, result.output
    assert logins(platform) == {
        ("student", "E1", None): "eloise.de-la-tour",
        ("student", "E2", None): "jean-baptiste.de-la-tour",
        ("guardian", "E1", "R1"): "loic.de-la-tour",
        ("guardian", "E2", "R1"): "loic.de-la-tour1",
        ("guardian", "E1", "R2"): "benedicte.martin-lefevre",
    }
    with platform.runtime("accounts").uow() as uow:
        guardian = uow.session.scalar(select(Guardian).where(Guardian.siecle_id == "R1"))
        assert (guardian.civility, guardian.country, guardian.address_lines) == (
            "M.",
            "FRANCE",
            ["96 impasse des Lilas’"],
        )


def test_every_error_of_a_csv_file_is_reported_and_nothing_is_imported(platform, tmp_path, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    bad = [
        CSV_ROW_1.replace("25/05/2015", "2015-05-25"),
        CSV_ROW_2.replace(";Jean-Baptiste;", ";;"),
        CSV_ROW_2.replace("E2;", "E3;").replace("Loïc;", "Louis;", 1),  # R1 described otherwise
        "E4;Martin;;Léa;20/12/2013;F;;;4B;;;;;;;;;;;;;R9;MME;Martin;Françoise;;;;;;",  # resp2 without resp1
        "E5;Martin;;Léo;20/12/2013;X;;;4B;;;;;;;;;;;;;;;;;;;;;;",
    ]
    result = CliRunner().invoke(cli, ["import", "csv", "--uai", UAI, str(_csv(tmp_path, *bad))])
    assert result.exit_code == 1
    assert "eleves.csv, ligne 2, champ date_naissance : date invalide « 2015-05-25 »" in result.output
    assert "eleves.csv, ligne 3, champ prenom : valeur obligatoire absente" in result.output
    assert "eleves.csv, ligne 4, champ resp1_id : le responsable R1 est décrit autrement ligne 2" in result.output
    assert (
        "ligne 5, champ resp1_id : le responsable légal 2 est rempli mais pas le responsable légal 1" in result.output
    )
    assert "ligne 6, champ sexe : sexe inconnu « X »" in result.output
    assert count(platform, Student) == 0 and count(platform, Guardian) == 0


@pytest.mark.parametrize("content,message", [
    ("eleve_id;nom\nE1;Dupont\n", "ligne 1 : ligne d'en-tête différente de celle attendue"),
    (CSV_HEADER_LINE + "\n", "aucune ligne d'élève"),
    (CSV_HEADER_LINE + "\nE1;Dupont;;Léa\n", "ligne 2 : 4 champs au lieu de 31"),
])
def test_a_csv_file_of_the_wrong_shape_is_refused(platform, tmp_path, content, message):
    from ts_accounts.adapters.csv_population import read_csv_population

    path = tmp_path / "eleves.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message):
        read_csv_population(path)
