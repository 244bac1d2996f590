"""Demo data of the embedded run: a school whose population comes from bundled synthetic SIECLE
exports (demo/siecle/), its identity block, its head and an academy administrator, and what the
academy offers (an ENT address, a TIPI client number). Online services are NOT activated: the
demo starts where a school starts (C1)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ts_accounts.adapters.orm import Academy, AcademyEntLink, School, SchoolEmail, StaffUser, TipiClient
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school, announce_settings
from ts_accounts.service_layer.staff import create_staff

DEMO_UAI = "0541234X"
DEMO_ACADEMY = "NCY"
DEMO_EXPORT = Path(__file__).resolve().parent / "siecle"
DEMO_HEAD = ("chef.demo", "Mme Claire Martin", "demo-chef-2026")  # the letters' signature
DEMO_ADMIN = ("admin.academie", "M. Paul Durand", "demo-admin-2026")  # administrator of Nancy-Metz only


def seed_demo(runtime) -> list[str]:
    """Fill an empty accounts database; return the credentials to print (always the same: this
    runs only in embedded mode, never in production)."""
    with runtime.uow() as uow:
        if uow.session.get(School, DEMO_UAI) is None:
            school = add_school(uow, uai=DEMO_UAI, name="Collège Jean Moulin", academy_code=DEMO_ACADEMY, city="Nancy")
            uow.session.get(Academy, DEMO_ACADEMY).name = "Nancy-Metz"
            school.address_lines, school.postal_code, school.phone = (
                ["12 rue de la République"],
                "54000",
                "03 83 00 00 00",
            )
            school.siecle_modules = ["notes"]
            uow.session.add_all(
                [
                    SchoolEmail(school_uai=DEMO_UAI, address="ce.0541234x@ac-nancy-metz.fr", label="Secrétariat"),
                    SchoolEmail(
                        school_uai=DEMO_UAI, address="vie-scolaire.0541234x@ac-nancy-metz.fr", label="Vie scolaire"
                    ),
                    AcademyEntLink(
                        academy_code=DEMO_ACADEMY,
                        label="ENT académique Mon Bureau Numérique",
                        url="https://monbureaunumerique.example.fr",
                    ),
                    TipiClient(
                        number="054123", holder="Agence comptable du collège Jean Moulin", academy_code=DEMO_ACADEMY
                    ),
                ]
            )
            announce_settings(uow, school)
            login, name, password = DEMO_HEAD
            create_staff(uow, login=login, display_name=name, password=password, head_of=DEMO_UAI)
            login, name, password = DEMO_ADMIN
            create_staff(uow, login=login, display_name=name, password=password, academy_admin=True,
                         academy_code=DEMO_ACADEMY)
            uow.session.flush()
            exports = [inspect_export(path) for path in sorted(DEMO_EXPORT.glob("*.xml"))]
            import_population(uow, uai=DEMO_UAI, source=source_from_exports(DEMO_UAI, exports), actor="démonstration")
            uow.commit()
        existing = set(uow.session.scalars(select(StaffUser.login)))
    return [
        f"Console du personnel : {login} / {password}   ({name})"
        for login, name, password in (DEMO_HEAD, DEMO_ADMIN)
        if login in existing
    ]
