"""Small hand-written SIECLE exports for tests (the generator in ts_accounts.demo makes large ones)."""
from __future__ import annotations

UAI, OTHER_UAI = "0541234X", "0573321A"
PARAMS = (
    "<PARAMETRES><UAJ>{uai}</UAJ><ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE>"
    "<DATE_EXPORT>01/09/2026</DATE_EXPORT></PARAMETRES>"
)


def student_xml(sid, last, first, birth, division, *, mef="10310019110", ine=None, groups=(), usage=None,
                left=None, id_style="attribute"):
    ident = f' ELEVE_ID="{sid}"' if id_style == "attribute" else ""
    child_id = f"<ELEVE_ID>{sid}</ELEVE_ID>" if id_style == "element" else ""
    fields = "".join(f"<{tag}>{value}</{tag}>" for tag, value in (
        ("ID_NATIONAL", ine), ("NOM_DE_FAMILLE", last), ("NOM_USAGE", usage), ("PRENOM", first),
        ("DATE_NAISS", birth), ("CODE_SEXE", "1"), ("CODE_MEF", mef), ("DATE_SORTIE", left)) if value)
    structures = f"<STRUCTURE><CODE_STRUCTURE>{division}</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE>"
    structures += "".join(
        f"<STRUCTURE><CODE_STRUCTURE>{g}</CODE_STRUCTURE><TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>" for g in groups
    )
    return (f"<ELEVE{ident}>{child_id}{fields}<CODE_REGIME>2</CODE_REGIME></ELEVE>",
            f"<STRUCTURES_ELEVE{ident}>{child_id}{structures}</STRUCTURES_ELEVE>")


def students_file(path, students, *, uai=UAI, encoding="ISO-8859-15"):
    eleves = "\n".join(s[0] for s in students)
    structures = "\n".join(s[1] for s in students)
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n<BEE_ELEVES VERSION="3.1">\n{PARAMS.format(uai=uai)}\n'
            f"<DONNEES>\n<ELEVES>\n{eleves}\n</ELEVES>\n<STRUCTURES>\n{structures}\n</STRUCTURES>\n</DONNEES>\n"
            f"</BEE_ELEVES>\n")
    path.write_bytes(text.encode(encoding))
    return path


def guardians_file(path, people, links, addresses=(), *, uai=UAI):
    persons = "".join(
        f'<PERSONNE PERSONNE_ID="{pid}"><LC_CIVILITE>{civ}</LC_CIVILITE><NOM_DE_FAMILLE>{last}</NOM_DE_FAMILLE>'
        f"<PRENOM>{first}</PRENOM>{f'<MEL>{mail}</MEL>' if mail else ''}"
        f"{f'<ADRESSE_ID>{aid}</ADRESSE_ID>' if aid else ''}<CODE_PROFESSION>23</CODE_PROFESSION></PERSONNE>"
        for pid, civ, last, first, mail, aid in people)
    responsables = "".join(
        f"<RESPONSABLE_ELEVE><ELEVE_ID>{sid}</ELEVE_ID><PERSONNE_ID>{pid}</PERSONNE_ID><RESP_LEGAL>{rank}</RESP_LEGAL>"
        f"<CODE_PARENTE>10</CODE_PARENTE><RESP_FINANCIER>1</RESP_FINANCIER></RESPONSABLE_ELEVE>"
        for sid, pid, rank in links)
    adresses = "".join(
        f'<ADRESSE ADRESSE_ID="{aid}"><LIGNE1_ADRESSE>{line}</LIGNE1_ADRESSE><CODE_POSTAL>{cp}</CODE_POSTAL>'
        f"<LIBELLE_POSTAL>{city}</LIBELLE_POSTAL><LL_PAYS>FRANCE</LL_PAYS></ADRESSE>"
        for aid, line, cp, city in addresses)
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<BEE_RESPONSABLES>{PARAMS.format(uai=uai)}<DONNEES>'
            f"<PERSONNES>{persons}</PERSONNES><RESPONSABLES>{responsables}</RESPONSABLES>"
            f"<ADRESSES>{adresses}</ADRESSES></DONNEES></BEE_RESPONSABLES>")
    path.write_text(text, encoding="utf-8")
    return path


STUDENTS = [
    student_xml("1001", "DUPONT", "Léa", "12/03/2013", "3A", ine="1234567890A", groups=("LATIN",)),
    student_xml("1002", "N'DIAYE", "Maël", "01/01/2012", "3B", ine="2234567890B"),
    student_xml("1003", "DUPONT", "Léa", "05/07/2013", "3B", ine="3234567890C"),  # a homonym
    student_xml("1004", "DUPONT", "Hugo", "30/11/2014", "4A", ine="4234567890D", mef="10210001110"),  # Léa's brother
]
PEOPLE = [
    ("9001", "MME", "DUPONT", "Hélène", "helene.dupont@example.org", "77"),
    ("9002", "M.", "DUPONT", "Jean", None, "77"),
    ("9003", "MME", "N'DIAYE", "Awa", "awa.ndiaye@gmail", None),  # an invalid email: imported as is
    ("9004", "MME", "MARTIN", "Louise", None, None),  # a grandmother, contact only
    ("9005", "M.", "DUPONT", "Jean", "jean.dupont2@example.org", None),  # another Jean Dupont (homonym)
]
LINKS = [("1001", "9001", 1), ("1001", "9002", 2), ("1004", "9001", 1), ("1004", "9002", 2),
         ("1002", "9003", 1), ("1002", "9004", 0), ("1003", "9005", 1)]
ADDRESSES = [("77", "3 rue des Lilas", "54000", "NANCY")]
