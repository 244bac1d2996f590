"""Synthetic SIECLE exports: a deterministic population with every awkward case, in real formats."""
from __future__ import annotations

import csv
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from lxml import etree

from ts_accounts.demo import synthetic_siecle as synth
from ts_accounts.demo.synthetic_siecle import (
    CSV_HEADER,
    EXPORT_FILES,
    SyntheticSchool,
    generate_school,
    write_csv,
    write_export,
    write_guardians,
    write_nomenclatures,
    write_structures,
    write_students,
    write_zip,
)

UAI = "0541234X"
REPO = Path(__file__).resolve().parents[3]
DEMO_DIR = REPO / "services/accounts/ts_accounts/demo/siecle"
VALID_EMAIL = re.compile(r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
ROOTS = {
    "students": "BEE_ELEVES",
    "guardians": "BEE_RESPONSABLES",
    "nomenclatures": "BEE_NOMENCLATURES",
    "structures": "BEE_STRUCTURES",
}
WRITERS = {
    "students": write_students,
    "guardians": write_guardians,
    "nomenclatures": write_nomenclatures,
    "structures": write_structures,
}


@pytest.fixture(scope="module")
def college() -> SyntheticSchool:
    return generate_school(UAI, 200, seed=11)


@pytest.fixture(scope="module")
def lycee() -> SyntheticSchool:
    return generate_school(UAI, 200, seed=11, kind="lycee")


def legal_guardians(school: SyntheticSchool) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for link in school.links:
        if link.legal_rank in (1, 2):
            found[link.student_id].append(link.guardian_id)
    return found


def identity(guardian) -> tuple:
    """What a person entered twice has in common: everything but the two ids."""
    return (guardian.civility, guardian.last_name, guardian.first_name, guardian.email,
            guardian.phone_mobile, guardian.address_line1, guardian.address_line2,
            guardian.postal_code, guardian.city, guardian.country)


def duplicate_groups(school: SyntheticSchool) -> list[list]:
    groups = defaultdict(list)
    for guardian in school.guardians:
        groups[identity(guardian)].append(guardian)
    return [group for group in groups.values() if len(group) > 1]


def is_valid_email(value: str) -> bool:
    return VALID_EMAIL.match(value) is not None


# -- determinism -----------------------------------------------------------------------------


def write_everything(school: SyntheticSchool, folder: Path) -> dict[str, bytes]:
    paths = write_export(school, folder / "xml") + write_export(school, folder / "zip", zipped=True)
    paths.append(write_csv(school, folder / "eleves.csv"))
    paths.append(write_students(school, folder / "ElevesAvecAdresses.xml", with_addresses=True))
    return {str(path.relative_to(folder)): path.read_bytes() for path in paths}


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    first = write_everything(generate_school(UAI, 150, seed=5), tmp_path / "a")
    second = write_everything(generate_school(UAI, 150, seed=5), tmp_path / "b")
    assert first.keys() == second.keys() and len(first) == 10
    assert all(first[name] == second[name] for name in first)


def test_a_different_seed_gives_different_files_and_people(tmp_path):
    one, other = generate_school(UAI, 150, seed=5), generate_school(UAI, 150, seed=6)
    assert (
        write_students(one, tmp_path / "a.xml").read_bytes() != write_students(other, tmp_path / "b.xml").read_bytes()
    )
    assert {s.siecle_id for s in one.students}.isdisjoint({s.siecle_id for s in other.students})


def test_the_bundled_demo_export_is_what_the_generator_produces(tmp_path):
    # The demo files are committed; they must stay reproducible from (UAI, 120, seed 2026).
    school = generate_school(UAI, 120, seed=2026)
    for path in write_export(school, tmp_path):
        assert (DEMO_DIR / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_batch_regenerated_alone_equals_the_same_slice_of_the_whole_school():
    school = generate_school(UAI, 700, seed=3)
    batches = list(school.batches())
    assert len(batches) == 3 and sum(len(b.students) for b in batches) == 700
    again = next(b for i, b in enumerate(generate_school(UAI, 700, seed=3).batches()) if i == 2)
    assert again == batches[2]


def test_writing_streams_without_materialising_the_population(tmp_path):
    school = generate_school(UAI, 3000, seed=1)
    write_export(school, tmp_path)
    write_csv(school, tmp_path / "eleves.csv")
    assert "_materialised" not in vars(school)  # only batches were generated, then dropped


# -- identifiers -----------------------------------------------------------------------------


def test_ids_are_unique_and_shaped_like_siecle_ids(college):
    students, guardians = college.students, college.guardians
    for values, pattern in [
        ([s.siecle_id for s in students], r"[1-9]\d{6}"),
        ([s.national_id for s in students], r"\d{10}[A-Z]"),
        ([s.elenoet for s in students], r"\d+"),
        ([g.siecle_id for g in guardians], r"[1-9]\d{6}"),
    ]:
        assert len(set(values)) == len(values)
        assert all(re.fullmatch(pattern, value) for value in values)
    addresses = defaultdict(set)
    for guardian in guardians:
        assert re.fullmatch(r"[1-9]\d{6}", guardian.address_id)
        addresses[guardian.address_id].add(guardian.address_lines[0] + guardian.postal_code + guardian.foreign_city)
    assert all(len(content) == 1 for content in addresses.values())  # one id, one address


def test_every_link_joins_a_known_student_to_a_known_guardian(college):
    students = {s.siecle_id for s in college.students}
    guardians = {g.siecle_id for g in college.guardians}
    assert all(link.student_id in students and link.guardian_id in guardians for link in college.links)
    assert guardians == {link.guardian_id for link in college.links}  # nobody unattached
    for student_id, ids in legal_guardians(college).items():
        ranks = sorted(link.legal_rank for link in college.links if link.student_id == student_id and link.legal_rank)
        assert ranks in ([1], [1, 2]) and len(set(ids)) == len(ids)


# -- the awkward cases ------------------------------------------------------------------------


def test_two_different_students_share_a_first_and_last_name(college):
    names = Counter((s.first_name, s.last_name) for s in college.students)
    assert names[("Léa", "Martin")] >= 2
    leas = [s for s in college.students if (s.first_name, s.last_name) == ("Léa", "Martin")]
    guardians = legal_guardians(college)
    assert len({s.siecle_id for s in leas}) == len(leas)
    assert set(guardians[leas[0].siecle_id]).isdisjoint(guardians[leas[1].siecle_id])


def test_two_different_guardians_share_a_name_but_not_their_email(college):
    jeans = [g for g in college.guardians if (g.first_name, g.last_name) == ("Jean", "Dupont")]
    assert len(jeans) >= 2
    assert len({g.email for g in jeans}) == len(jeans) and all(is_valid_email(g.email) for g in jeans)


def test_siblings_share_the_same_guardian_records(college):
    children = defaultdict(set)
    for link in college.links:
        if link.legal_rank == 1:
            children[link.guardian_id].add(link.student_id)
    assert max(len(kids) for kids in children.values()) == 3
    families = [kids for kids in children.values() if len(kids) >= 2]
    assert len(families) >= 3
    guardians = legal_guardians(college)
    assert any(
        len({tuple(sorted(guardians[kid])) for kid in kids}) == 1 and all(len(guardians[kid]) == 2 for kid in kids)
        for kids in families
    )


def test_some_guardians_have_no_email_and_some_a_malformed_one(college):
    emails = [g.email for g in college.guardians]
    missing = emails.count(None)
    malformed = [e for e in emails if e is not None and not is_valid_email(e)]
    assert 0.05 < missing / len(emails) < 0.25
    assert 1 <= len(malformed) < 0.1 * len(emails)
    assert any("@" not in e for e in malformed) and any(e.endswith("@gmail") or "@@" in e or "," in e or " " in e
                                                         or "@" in e and "." not in e.split("@")[1] for e in malformed)


def test_some_students_have_a_single_legal_guardian(college):
    counts = Counter(len(ids) for ids in legal_guardians(college).values())
    assert counts[1] >= 1 and counts[2] > counts[1]
    assert set(legal_guardians(college)) == {s.siecle_id for s in college.students}


def test_rank_0_contacts_are_never_legal_guardians(college):
    contacts = [link for link in college.links if link.legal_rank == 0]
    assert contacts and all(link.relationship_code in ("38", "90") and link.is_contact for link in contacts)
    legal_ids = {link.guardian_id for link in college.links if link.legal_rank}
    assert legal_ids.isdisjoint(link.guardian_id for link in contacts)


def test_departed_students_left_after_entering_and_before_the_export(college):
    departed = [s for s in college.students if s.left_on]
    assert 1 <= len(departed) < 0.1 * len(college.students)
    assert all(s.entry_date < s.left_on < college.export_date for s in departed)


def test_a_lycee_has_students_aged_18_or_more_and_a_college_has_none(lycee, college):
    adults = [s for s in lycee.students if s.age_on(lycee.export_date) >= 18]
    assert 1 <= len(adults) < 0.25 * len(lycee.students)
    assert all(s.mef_code != "20010018110" for s in adults)  # none in seconde at 18
    assert max(s.age_on(college.export_date) for s in college.students) < 18


def test_ages_match_the_level(college, lycee):
    for school, first_age in ((college, 11), (lycee, 15)):
        rank = {mef.code: index for index, mef in enumerate(school.mefs)}
        gaps = Counter(school.school_year - s.birth_date.year - first_age - rank[s.mef_code] for s in school.students)
        assert gaps.most_common(1)[0][0] == 0 and set(gaps) <= {-1, 0, 1, 2, 3}


def test_names_include_accents_apostrophes_hyphens_and_particles(college):
    people = [(s.first_name, s.last_name) for s in college.students]
    people += [(g.first_name, g.last_name) for g in college.guardians]
    first_names = {first for first, _ in people}
    last_names = {last for _, last in people}
    assert {"Éloïse", "Maël", "Anaïs", "Noémie", "Chloé", "Léa"} <= first_names
    assert any("-" in name for name in first_names) and any("-" in name for name in last_names)
    assert any("'" in name for name in last_names)
    assert {"de La Tour", "Le Gall"} <= last_names
    assert any(re.search(r"[éèêëàâîïôöûüçÉœ]", name) for name in last_names)


def test_duplicate_guardian_records_are_one_person_under_two_ids(college):
    [group, *_] = duplicate_groups(college)
    ids = {g.siecle_id for g in group}
    assert len(ids) == len(group) and len({g.address_id for g in group}) == len(group)
    students = defaultdict(set)
    for link in college.links:
        if link.guardian_id in ids:
            students[link.guardian_id].add(link.student_id)
    assert all(students.values()) and set.intersection(*students.values()) == set()  # one per sibling


def test_a_guardian_lives_abroad_with_a_foreign_city_and_no_postal_code(college):
    abroad = [g for g in college.guardians if g.lives_abroad]
    assert abroad and all(g.foreign_city and not g.postal_code and not g.city for g in abroad)
    assert all(g.country == "FRANCE" and re.fullmatch(r"\d{5}", g.postal_code) for g in college.guardians
               if not g.lives_abroad)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", ["college", "lycee"])
def test_every_case_is_present_in_a_school_of_40(seed, kind):
    school = generate_school(UAI, 40, seed=seed, kind=kind)
    names = Counter((s.first_name, s.last_name) for s in school.students)
    guardian_names = Counter((g.first_name, g.last_name) for g in school.guardians)
    per_guardian = Counter(link.guardian_id for link in school.links if link.legal_rank)
    emails = [g.email for g in school.guardians]
    assert len(school.students) == 40
    assert max(names.values()) >= 2 and max(guardian_names.values()) >= 2
    assert max(per_guardian.values()) >= 2  # siblings
    assert None in emails and any(e and not is_valid_email(e) for e in emails)
    assert 1 in Counter(len(ids) for ids in legal_guardians(school).values()).keys()
    assert any(link.legal_rank == 0 for link in school.links)
    assert any(s.left_on for s in school.students)
    assert duplicate_groups(school)
    assert any(g.lives_abroad for g in school.guardians)
    if kind == "lycee":
        assert any(s.age_on(school.export_date) >= 18 for s in school.students)


def test_divisions_hold_25_to_30_students_and_groups_belong_to_their_level(college):
    sizes = Counter(s.division for s in college.students)
    assert set(sizes) == {d.code for d in college.divisions} == {"6A", "6B", "5A", "5B", "4A", "4B", "3A", "3B"}
    assert all(25 <= size <= 30 for size in sizes.values())
    division_mef = {d.code: d.mef_code for d in college.divisions}
    group_divisions = {g.code: set(g.division_codes) for g in college.groups}
    for student in college.students:
        assert division_mef[student.division] == student.mef_code
        assert all(student.division in group_divisions[group] for group in student.groups)
    assert {"LATIN5", "ALL4-LV2", "ESP4-LV2"} <= set(group_divisions)


def test_a_lycee_has_lycee_mefs_divisions_and_groups(lycee):
    assert [m.short_label for m in lycee.mefs] == ["2NDE", "1ERE G", "TLE G"]
    assert {"2DE1", "1G2", "TG3"} <= {d.code for d in lycee.divisions}
    firsts = [s for s in lycee.students if s.mef_code == lycee.mefs[1].code]
    assert all(sum(g.startswith("1SPE-") for g in s.groups) == 3 for s in firsts)


def test_every_generated_string_is_representable_in_iso_8859_15(college, lycee):
    for school in (college, lycee):
        for record in [*school.students, *school.guardians, *school.links, *school.mefs,
                       *school.divisions, *school.groups]:
            for name in type(record).__dataclass_fields__:
                value = getattr(record, name)
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        text.encode("iso-8859-15")  # raises if not representable


# -- XML files --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(EXPORT_FILES))
def test_each_xml_file_has_its_bee_root_and_the_school_parameters(college, tmp_path, key):
    path = WRITERS[key](college, tmp_path / EXPORT_FILES[key])
    root = etree.parse(str(path)).getroot()
    assert root.tag == ROOTS[key]
    assert root.findtext("PARAMETRES/UAJ") == UAI
    assert root.findtext("PARAMETRES/ANNEE_SCOLAIRE") == "2026"
    assert root.findtext("PARAMETRES/DATE_EXPORT") == "18/09/2026"
    assert re.fullmatch(r"18/09/2026 \d\d:\d\d:\d\d", root.findtext("PARAMETRES/HORODATAGE"))
    assert root.find("DONNEES") is not None


def test_files_are_declared_and_really_encoded_in_iso_8859_15_by_default(college, tmp_path):
    raw = write_students(college, tmp_path / "e.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES')
    assert "Éloïse".encode("iso-8859-15") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("iso-8859-15")
    assert "<PRENOM>Éloïse</PRENOM>" in text and "&#" not in text  # no character references
    assert etree.fromstring(raw).find("DONNEES/ELEVES/ELEVE/PRENOM").text == "Éloïse"


def test_files_can_be_written_in_utf8(college, tmp_path):
    paths = write_export(college, tmp_path, encoding="UTF-8")
    for path in paths:
        raw = path.read_bytes()
        assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        raw.decode("utf-8")
    assert "<PRENOM>Éloïse</PRENOM>" in (tmp_path / "ElevesSansAdresses.xml").read_text("utf-8")
    tree = etree.parse(str(tmp_path / "ResponsablesAvecAdresses.xml"))
    assert "Bénédicte" in {p.findtext("PRENOM") for p in tree.iterfind("DONNEES/PERSONNES/PERSONNE")}


def ids_in(path: Path, record: str, id_name: str, id_style: str) -> list[str]:
    tree = etree.parse(str(path))
    records = tree.getroot().iterfind(f".//{record}")
    if id_style == "attribute":
        return [r.get(id_name) for r in records if r.find(id_name) is None]
    return [r.findtext(id_name) for r in records if r.get(id_name) is None]


@pytest.mark.parametrize("id_style", ["attribute", "element"])
def test_both_id_styles_put_every_id_where_expected(college, tmp_path, id_style):
    paths = dict(zip(EXPORT_FILES, write_export(college, tmp_path, id_style=id_style), strict=True))
    students = [s.siecle_id for s in college.students]
    assert ids_in(paths["students"], "ELEVE", "ELEVE_ID", id_style) == students
    assert ids_in(paths["students"], "ELEVE", "ELENOET", id_style) == [s.elenoet for s in college.students]
    assert ids_in(paths["students"], "STRUCTURES_ELEVE", "ELEVE_ID", id_style) == students
    assert ids_in(paths["guardians"], "PERSONNE", "PERSONNE_ID", id_style) == [g.siecle_id for g in college.guardians]
    assert set(ids_in(paths["guardians"], "ADRESSE", "ADRESSE_ID", id_style)) == {
        g.address_id for g in college.guardians
    }
    assert ids_in(paths["nomenclatures"], "MEF", "CODE_MEF", id_style) == [m.code for m in college.mefs]
    assert ids_in(paths["structures"], "DIVISION", "CODE_STRUCTURE", id_style) == [d.code for d in college.divisions]
    assert ids_in(paths["structures"], "GROUPE", "CODE_STRUCTURE", id_style) == [g.code for g in college.groups]


def test_an_unknown_id_style_is_refused(college, tmp_path):
    with pytest.raises(ValueError, match="id_style"):
        write_students(college, tmp_path / "e.xml", id_style="attributes")


def test_students_file_holds_each_student_with_its_division_and_groups(college, tmp_path):
    root = etree.parse(str(write_students(college, tmp_path / "e.xml"))).getroot()
    by_id = {s.siecle_id: s for s in college.students}
    for element in root.iterfind("DONNEES/ELEVES/ELEVE"):
        student = by_id[element.get("ELEVE_ID")]
        assert element.findtext("ID_NATIONAL") == student.national_id
        assert element.findtext("NOM_DE_FAMILLE") == student.last_name and element.find("NOM") is None
        assert element.findtext("PRENOM") == student.first_name
        assert element.findtext("DATE_NAISS") == student.birth_date.strftime("%d/%m/%Y")
        assert element.findtext("CODE_SEXE") == student.sex and element.findtext("CODE_MEF") == student.mef_code
        assert element.findtext("DATE_ENTREE") == student.entry_date.strftime("%d/%m/%Y")
        assert (element.find("DATE_SORTIE") is not None) == (student.left_on is not None)
        assert element.find("CODE_REGIME") is not None and element.find("ADHESION_TRANSPORT") is not None
        assert all(child.text for child in element)  # empty optional fields are omitted
    for element in root.iterfind("DONNEES/STRUCTURES/STRUCTURES_ELEVE"):
        student = by_id[element.get("ELEVE_ID")]
        structures = [(s.findtext("CODE_STRUCTURE"), s.findtext("TYPE_STRUCTURE")) for s in element]
        assert structures == [(student.division, "D")] + [(g, "G") for g in student.groups]


def test_legacy_exports_name_the_family_name_nom(college, tmp_path):
    root = etree.parse(str(write_students(college, tmp_path / "e.xml", legacy_names=True))).getroot()
    first = root.find("DONNEES/ELEVES/ELEVE")
    assert first.findtext("NOM") == "de La Tour" and first.find("NOM_DE_FAMILLE") is None


def test_students_file_with_addresses_points_each_student_to_an_address(college, tmp_path):
    root = etree.parse(str(write_students(college, tmp_path / "e.xml", with_addresses=True))).getroot()
    addresses = {a.get("ADRESSE_ID") for a in root.iterfind("DONNEES/ADRESSES/ADRESSE")}
    students = root.findall("DONNEES/ELEVES/ELEVE")
    assert len(students) == 200 and {s.findtext("ADRESSE_ID") for s in students} == addresses


def test_guardians_file_holds_persons_links_and_addresses(college, tmp_path):
    root = etree.parse(str(write_guardians(college, tmp_path / "r.xml"))).getroot()
    persons = {p.get("PERSONNE_ID"): p for p in root.iterfind("DONNEES/PERSONNES/PERSONNE")}
    assert len(persons) == len(college.guardians)
    for guardian in college.guardians:
        person = persons[guardian.siecle_id]
        assert person.findtext("LC_CIVILITE") == guardian.civility
        assert person.findtext("NOM_DE_FAMILLE") == guardian.last_name
        assert person.findtext("PRENOM") == guardian.first_name
        assert person.findtext("MEL") == guardian.email  # None when absent: element omitted
        assert person.findtext("TEL_PORTABLE") == guardian.phone_mobile
        assert person.findtext("ADRESSE_ID") == guardian.address_id
    links = [(r.findtext("ELEVE_ID"), r.findtext("PERSONNE_ID"), int(r.findtext("RESP_LEGAL")),
              r.findtext("CODE_PARENTE"), r.findtext("PERSONNE_CONTACT") == "1")
             for r in root.iterfind("DONNEES/RESPONSABLES/RESPONSABLE_ELEVE")]
    assert links == [(link.student_id, link.guardian_id, link.legal_rank, link.relationship_code, link.is_contact)
                     for link in college.links]
    addresses = {a.get("ADRESSE_ID"): a for a in root.iterfind("DONNEES/ADRESSES/ADRESSE")}
    assert set(addresses) == {g.address_id for g in college.guardians}
    abroad = next(g for g in college.guardians if g.lives_abroad)
    element = addresses[abroad.address_id]
    assert (
        element.findtext("LL_PAYS") == abroad.country and element.findtext("COMMUNE_ETRANGERE") == abroad.foreign_city
    )
    assert element.find("CODE_POSTAL") is None


def test_nomenclature_and_structures_files_describe_mefs_divisions_and_groups(college, tmp_path):
    nomenclature = etree.parse(str(write_nomenclatures(college, tmp_path / "n.xml"))).getroot()
    mefs = {m.get("CODE_MEF"): m for m in nomenclature.iterfind("DONNEES/MEFS/MEF")}
    assert mefs["10310019110"].findtext("CODE_MEFSTAT") == "1031"
    assert mefs["10010012110"].findtext("LIBELLE_LONG") == "6EME"
    assert mefs["10110001110"].findtext("MEF_RATTACHEMENT") == "10110001110"
    assert nomenclature.findall("DONNEES/MATIERES/MATIERE")
    structures = etree.parse(str(write_structures(college, tmp_path / "s.xml"))).getroot()
    division = structures.find("DONNEES/DIVISIONS/DIVISION[@CODE_STRUCTURE='3B']")
    assert division.findtext("MEFS_APPARTENANCE/MEF_APPARTENANCE/CODE_MEF") == "10310019110"
    group = structures.find("DONNEES/GROUPES/GROUPE[@CODE_STRUCTURE='LATIN4']")
    assert [c.text for c in group.iterfind("DIVISIONS_APPARTENANCE/DIVISION_APPARTENANCE/CODE_STRUCTURE")] == [
        "4A",
        "4B",
    ]


# -- CSV, zip, CLI ----------------------------------------------------------------------------


def read_csv(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as source:
        return list(csv.reader(source, delimiter=";"))


def test_the_csv_header_is_exactly_the_documented_one(college, tmp_path):
    path = write_csv(college, tmp_path / "eleves.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfeleve_id;nom;nom_usage;prenom;date_naissance;")
    assert read_csv(path)[0] == CSV_HEADER and len(CSV_HEADER) == 31
    documented = (REPO / "docs/import-csv.md").read_text("utf-8")
    assert ";".join(CSV_HEADER) in documented
    assert all(f"`{column}`" in documented or f"`{column.split('_', 1)[1]}`" in documented.replace("…_", "")
               for column in CSV_HEADER)
    examples = [line for line in documented.splitlines() if line.startswith("E100")]
    assert examples and all(len(row) == len(CSV_HEADER) for row in csv.reader(examples, delimiter=";"))


def test_the_csv_has_one_row_per_enrolled_student_with_legal_guardians_1_and_2(college, tmp_path):
    rows = read_csv(write_csv(college, tmp_path / "eleves.csv"))[1:]
    enrolled = [s for s in college.students if not s.left_on]
    assert len(rows) == len(enrolled) < len(college.students)
    by_id = {g.siecle_id: g for g in college.guardians}
    ranks = {(link.student_id, link.legal_rank): link.guardian_id for link in college.links}
    for row, student in zip(rows, enrolled, strict=True):
        record = dict(zip(CSV_HEADER, row, strict=True))
        assert record["eleve_id"] == student.siecle_id and record["nom"] == student.last_name
        assert record["date_naissance"] == student.birth_date.strftime("%d/%m/%Y")
        assert record["sexe"] == {"1": "M", "2": "F"}[student.sex]
        assert record["groupes"] == ",".join(student.groups) and record["ine"] == student.national_id
        for rank in (1, 2):
            guardian = by_id.get(ranks.get((student.siecle_id, rank), ""))
            assert record[f"resp{rank}_id"] == (guardian.siecle_id if guardian else "")
            if guardian:
                assert record[f"resp{rank}_adresse"] == ", ".join(guardian.address_lines)
                assert record[f"resp{rank}_mel"] == (guardian.email or "")
    resp1 = Counter(row[CSV_HEADER.index("resp1_id")] for row in rows)
    assert max(resp1.values()) >= 2  # siblings repeat the same guardian id


def test_the_csv_can_be_written_without_bom_or_in_latin_9(college, tmp_path):
    assert not write_csv(college, tmp_path / "a.csv", bom=False).read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(write_csv(college, tmp_path / "b.csv", encoding="ISO-8859-15"), "iso-8859-15")
    assert rows[0] == CSV_HEADER and any("Éloïse" in row for row in rows)


def test_a_zip_holds_the_given_files(college, tmp_path):
    xml = write_students(college, tmp_path / "ElevesSansAdresses.xml")
    archive = write_zip(tmp_path / "ElevesSansAdresses.zip", {"ElevesSansAdresses.xml": xml})
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["ElevesSansAdresses.xml"]
        assert opened.read("ElevesSansAdresses.xml") == xml.read_bytes()


def test_a_zipped_export_is_one_zip_per_xml_file(college, tmp_path):
    paths = write_export(college, tmp_path, zipped=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(n).stem + ".zip" for n in EXPORT_FILES.values())
    for path, name in zip(paths, EXPORT_FILES.values(), strict=True):
        with zipfile.ZipFile(path) as opened:
            assert opened.namelist() == [name]
            assert etree.fromstring(opened.read(name)).find("PARAMETRES/UAJ").text == UAI


def test_the_command_line_writes_the_export_and_the_csv(tmp_path, capsys):
    assert synth.main(["--uai", UAI, "--students", "60", "--seed", "1", "--out", str(tmp_path),
                       "--csv", "--kind", "lycee", "--encoding", "UTF-8"]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in printed) == sorted([*EXPORT_FILES.values(), "eleves.csv"])
    root = etree.parse(str(tmp_path / "ElevesSansAdresses.xml")).getroot()
    assert len(root.findall("DONNEES/ELEVES/ELEVE")) == 60
    assert root.find("DONNEES/ELEVES/ELEVE/CODE_MEF").text == "20010018110"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        generate_school(UAI, 10, kind="ecole")
