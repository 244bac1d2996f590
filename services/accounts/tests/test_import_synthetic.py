"""A1/B1 on realistic synthetic exports (ts_accounts.demo.synthetic_siecle): every enrolled
student and every legal guardian 1 or 2 gets exactly one account per child, logins are unique
and stable, and the SIECLE and CSV formats give the same directory."""
from __future__ import annotations

import itertools
from datetime import datetime, UTC

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from support.settings import settings_for
from ts_accounts.adapters.csv_population import COLUMNS, read_csv_population
from ts_accounts.adapters.orm import Account
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.demo.synthetic_siecle import generate_school, write_csv, write_export
from ts_accounts.domain.logins import is_valid_login
from ts_accounts.service_layer.imports import import_population, source_from_csv, source_from_exports
from ts_accounts.service_layer.listing import school_accounts
from ts_accounts.service_layer.schools import add_school
from ts_shared.runtime.process import Platform

UAI = "0541234X"
CSV_HEADER = ";".join(COLUMNS)
NOW = datetime(2026, 9, 20, tzinfo=UTC)


def seed(platform, folder):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()


def _import(platform, source):
    with platform.runtime("accounts").uow() as uow:
        report = import_population(uow, uai=UAI, source=source, actor="test", clock=lambda: NOW)
        events = uow.pending_events
        uow.commit()
    return report, events


def _directory(platform):
    with platform.runtime("accounts").uow() as uow:
        return {(r.kind, r.student_id, r.guardian_id): r.login for r in school_accounts(uow.session, UAI)}


def _expected_couples(school):
    enrolled = {s.siecle_id for s in school.students if s.left_on is None or s.left_on > NOW.date()}
    couples = {("student", sid, None) for sid in enrolled}
    couples |= {("guardian", link.student_id, link.guardian_id) for link in school.links
                if link.legal_rank in (1, 2) and link.student_id in enrolled}
    return couples


@pytest.mark.parametrize("kind,seed", [("college", 2026), ("lycee", 7)])
def test_a_synthetic_school_gets_one_account_per_student_and_legal_guardian_couple(platform, tmp_path, kind, seed):
    school = generate_school(UAI, 300, seed=seed, kind=kind)
    files = write_export(school, tmp_path / "export", zipped=True)
    report, events = _import(platform, source_from_exports(UAI, [inspect_export(f) for f in files]))
    directory = _directory(platform)
    assert set(directory) == _expected_couples(school)
    assert len(set(directory.values())) == len(directory)  # unique logins
    assert all(is_valid_login(login) for login in directory.values())
    assert report.rejected == []
    assert any("mal formée" in warning.reason for warning in report.warnings)
    assert len(events) == report.accounts_created == len(directory)

    again, events = _import(platform, source_from_exports(UAI, [inspect_export(f) for f in files]))
    assert events == [] and again.created == {} and again.updated == {} and _directory(platform) == directory


def test_the_csv_format_gives_the_same_directory_as_the_siecle_export(tmp_path):
    school = generate_school(UAI, 200, seed=11)
    directories = []
    for variant in ("siecle", "csv"):
        platform = Platform(settings_for(tmp_path / variant))
        with platform.runtime("accounts").uow() as uow:
            add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
            uow.commit()
        if variant == "siecle":
            files = write_export(school, tmp_path / "export", encoding="UTF-8", id_style="element")
            source = source_from_exports(UAI, [inspect_export(f) for f in files])
        else:
            path = write_csv(school, tmp_path / "eleves.csv")
            source = source_from_csv(path.name, read_csv_population(path))
        _import(platform, source)
        directories.append(_directory(platform))
        platform.dispose()
    assert directories[0] == directories[1]


def test_logins_do_not_depend_on_the_order_of_the_file(platform, tmp_path):
    """Homonyms get their indexes in a stable order (by name then id), not in file order."""
    school = generate_school(UAI, 120, seed=3)
    path = write_csv(school, tmp_path / "eleves.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    reversed_path = tmp_path / "reversed.csv"
    reversed_path.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    _import(platform, source_from_csv(path.name, read_csv_population(path)))
    forward = _directory(platform)
    other = Platform(settings_for(tmp_path / "other"))
    with other.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    _import(other, source_from_csv(reversed_path.name, read_csv_population(reversed_path)))
    assert _directory(other) == forward
    other.dispose()


def test_the_bundled_demo_export_imports_cleanly(platform):
    from ts_accounts.demo.seed import DEMO_EXPORT

    report, _ = _import(
        platform, source_from_exports(UAI, [inspect_export(p) for p in sorted(DEMO_EXPORT.glob("*.xml"))])
    )
    assert report.rejected == [] and report.created["élèves"] >= 100
    with platform.runtime("accounts").uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Account)) == report.accounts_created


_names = st.text(alphabet=st.characters(codec="iso-8859-15", categories=("L",), exclude_characters=";\"'"),
                 min_size=1, max_size=12)
_name_lists = st.lists(st.tuples(_names, _names), min_size=1, max_size=12)
_counter = itertools.count(1)


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory):
    platform = Platform(settings_for(tmp_path_factory.mktemp("property")))
    yield platform
    platform.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=_name_lists)
def test_logins_are_unique_ascii_and_stable_across_re_imports_for_any_names(shared_platform, tmp_path_factory, people):
    """Every example is a new school of the same academy: the directory keeps growing, logins
    stay unique across it, and importing a school again never changes one."""
    number = next(_counter)
    uai = f"{number:07d}Z"
    with shared_platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=uai, name=f"École {number}", academy_code="PROP")
        uow.commit()
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "eleves.csv"
    rows = [";".join([f"S{i}", last, "", first, "01/02/2013", "", "", "", "6A", "", "", f"G{i}", "MME", last,
                      first, "", "", "", "", "", "", *[""] * 10]) for i, (first, last) in enumerate(people)]
    path.write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")

    def directory():
        with shared_platform.runtime("accounts").uow() as uow:
            return {(r.kind, r.student_id, r.guardian_id): r.login for r in school_accounts(uow.session, uai)}

    def run_import():
        with shared_platform.runtime("accounts").uow() as uow:
            import_population(uow, uai=uai, source=source_from_csv(path.name, read_csv_population(path)),
                              actor="test", clock=lambda: NOW)
            uow.commit()

    run_import()
    first_logins = directory()
    run_import()
    assert directory() == first_logins and len(first_logins) == 2 * len(people)
    assert all(login.isascii() and is_valid_login(login) for login in first_logins.values())
    with shared_platform.runtime("accounts").uow() as uow:
        all_logins = uow.session.scalars(select(Account.login)).all()
    assert len(all_logins) == len(set(all_logins))
