"""The staff console « Administration Téléservices » driven as a school secretary drives it: a
real headless Chromium (Debian's, through Playwright) clicking the menus, ticking the boxes and
downloading the files, against the REAL embedded system as `make run` starts it (the demo school
0541234X « Collège Jean Moulin », not activated, its head chef.demo, the SMTP sink at /dev/mail).

1. Issue « console »'s acceptance journey: activation, Notes opened, welcome message, useful links,
   a guardian found, renotified on paper (the PDF downloaded) and given a new account, « Accès des
   élèves » delegated to a colleague, everything in the audit log; then the colleague's rights.
2. Issue « notifier »'s acceptance journey: a division notified by email and paper, the progress,
   the PDF (one page per paper letter), the emails (login and temporary password), the accounts
   « Notifié »; then « Courriers de notification »: a PDF preview and a customised body.

Each page is checked for what it shows; the whole run fails on any console error about the
Content Security Policy and on any uncaught JavaScript error (the DSFR menus stop working then).
Set TS_JOURNEY_SCREENSHOTS=/some/folder to keep a screenshot of each step."""
from __future__ import annotations

import io
import os
import re
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from support.browser import chromium
from support.bus import reset_memory_broker, wait_for
from support.settings import settings_for
from ts_accounts.adapters.orm import Account, AccountLink, Student
from ts_shared.calendar import PARIS
from ts_shared.runtime.mail_sink import free_port

UAI = "0541234X"
HEAD, HEAD_PASSWORD = "chef.demo", "demo-chef-2026"
COLLEAGUE, COLLEAGUE_NAME, COLLEAGUE_PASSWORD = "cpe.demo", "M. Karim Benali (CPE)", "cpe-vie-scolaire-26"
STUDENT_ACCESS = "Accès des élèves (gérer et notifier leurs comptes)"
LINKS = [("Le site du collège", "https://www.college-moulin.example.fr/"),
         ("L'ENT Mon Bureau Numérique", "https://monbureaunumerique.example.fr/")]
FORBIDDEN = "Vous n'avez pas les droits nécessaires pour cette page."
NEW_GUARDIAN_LETTER = "Responsable – compte nouveau ou non activé"

# --- the system and the browser ------------------------------------------------------------------

@pytest.fixture
def system(tmp_path):
    """The whole system as `make run` starts it, on a free port, with the demo data."""
    from ts_shared.runtime.embedded import build_embedded_system

    reset_memory_broker()
    port = free_port()
    settings = settings_for(tmp_path / "data").with_overrides(port=port, public_url=f"http://127.0.0.1:{port}")
    system = build_embedded_system(settings, port=port)
    system.start()
    yield system
    system.stop()
    reset_memory_broker()


class Browser:
    """One Chromium window on the system; collects what the run must never show (CSP refusals,
    uncaught script errors), how long each step took, and a screenshot of the page where a step
    failed."""

    def __init__(self, context, url: str, failures: Path, shots: Path | None):
        self.context, self.url, self.failures, self.shots = context, url, failures, shots
        self.csp_errors: list[str] = []
        self.script_errors: list[str] = []
        self.timings: list[tuple[str, float]] = []
        context.on("console", self._console)
        context.on("weberror", lambda error: self.script_errors.append(str(error.error)))
        self.page = context.new_page()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            path = self.failures / f"failed-{_slug(name)}.png"
            try:
                self.page.screenshot(path=str(path), full_page=True)
                print(f"\n  « {name} » failed on {self.page.url}; screenshot: {path}")
            except Exception:  # the page may be gone
                pass
            raise
        self.timings.append((name, time.perf_counter() - started))
        if self.shots:
            self.page.screenshot(path=str(self.shots / f"{len(self.timings):02d}-{_slug(name)}.png"), full_page=True)

    def report(self) -> str:
        return "\n".join([f"  {seconds:6.2f} s  {name}" for name, seconds in self.timings]
                         + [f"  {sum(s for _, s in self.timings):6.2f} s  in all"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


@pytest.fixture
def browser(system, tmp_path, request):
    shots = None
    if os.environ.get("TS_JOURNEY_SCREENSHOTS"):
        shots = Path(os.environ["TS_JOURNEY_SCREENSHOTS"]) / request.node.name
        shots.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        context = launched.new_context(accept_downloads=True, locale="fr-FR", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        browser = Browser(context, system.url, tmp_path, shots)
        try:
            yield browser
        finally:
            print("\n" + browser.report())
    assert browser.csp_errors == [], "a Content Security Policy refused something: " + "; ".join(browser.csp_errors)
    assert browser.script_errors == [], "uncaught JavaScript error(s): " + "; ".join(browser.script_errors)


# --- what a secretary does on the pages -------------------------------------------------------------

def main_text(page) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text())


def alerts(page) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in page.locator("main .fr-alert").all_inner_texts()]


def open_menu(page, section: str, entry: str) -> None:
    """Menu bar › section › entry, as clicked (the DSFR drop-down must open)."""
    from playwright.sync_api import expect

    bar = page.get_by_role("navigation", name="Menu principal")
    button = bar.get_by_role("button", name=section, exact=True)
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    drop_down = page.locator("#" + button.get_attribute("aria-controls"))
    with page.expect_navigation():
        drop_down.get_by_role("link", name=entry, exact=True).click()


def sections_of_the_menu(page) -> list[str]:
    """The menu bar's sections (and « Accueil »), as shown."""
    bar = page.get_by_role("navigation", name="Menu principal")
    items = bar.locator(".fr-nav__item > .fr-nav__btn, .fr-nav__item > .fr-nav__link")
    return [re.sub(r"\s+", " ", text).strip() for text in items.all_inner_texts()]


def tick(page, label: str, *, on: bool = True, within=None) -> None:
    """Click a DSFR checkbox or radio button where it is drawn (its label's box), check the result."""
    scope = within or page
    control = scope.get_by_label(label, exact=True)
    if control.is_checked() != on:
        control.click(force=True)  # the drawn box is the label's, over the (transparent) input
    assert control.is_checked() == on, f"« {label} » is not {'ticked' if on else 'unticked'}"


def sign_in(page, url: str, login: str, password: str) -> None:
    page.goto(f"{url}/admin/")
    assert page.locator("h1").inner_text() == "Connexion à Administration Téléservices"
    page.get_by_label("Identifiant", exact=True).fill(login)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()


def sign_out(page) -> None:
    with page.expect_navigation():
        page.get_by_role("banner").get_by_role("button", name="Se déconnecter").click()
    assert "/admin/login" in page.url and "Vous êtes déconnecté." in alerts(page)


def today() -> str:
    return datetime.now(PARIS).strftime("%d/%m/%Y")


def table_rows(table) -> list[dict[str, str]]:
    """A results table as dicts: header → cell text."""
    headers = [re.sub(r"\s+", " ", h).strip() for h in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [re.sub(r"\s+", " ", c).strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) == len(headers):
            rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def table_rows_as_pairs(table) -> dict[str, str]:
    """A two-column table (row header, value) as a dict."""
    pairs = {}
    for row in table.locator("tbody tr").all():
        header = re.sub(r"\s+", " ", row.locator("th").inner_text()).strip()
        pairs[header] = re.sub(r"\s+", " ", row.locator("td").inner_text()).strip()
    return pairs


def follow_the_batch(page) -> None:
    """After « Renotifier » / « Notifier »: the notifier's page of the batch. The accounts service
    redirects at once, before the notifier has received the batch (it travels through the outbox
    and the broker): the page then says the notification is being prepared (never « Erreur 404 »)
    and turns into the batch's page by itself."""
    from playwright.sync_api import expect

    assert re.search(r"/admin/notifications/batches/[0-9a-f-]{36}\?nouvelle=1$", page.url), page.url
    assert page.locator("h1").inner_text() != "Erreur 404"
    expect(page.locator("h1")).not_to_have_text("Notification en préparation", timeout=30_000)


def wait_until_finished(page) -> str:
    """The progress bar to 100 %, « Terminée. », the counts line; returns that line."""
    from playwright.sync_api import expect

    expect(page.locator("[data-ts-progress-status]")).to_have_text("Terminée.", timeout=60_000)
    expect(page.locator("[data-ts-progress-label]")).to_have_text("100 %")
    assert page.locator("progress[data-ts-progress-bar]").get_attribute("value") == "100"
    return main_text(page)


def download_the_pdf(page) -> tuple[str, bytes]:
    link = page.locator("[data-ts-progress-files] a")
    assert link.count() == 1, main_text(page)
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"%PDF-"), content[:20]
    from playwright.sync_api import expect

    # Downloadable again for 24 hours (J3): the page says until when.
    expect(page.locator("[data-ts-progress-files]")).to_contain_text("téléchargeable jusqu'au")
    assert page.locator("[data-ts-progress-files] a").count() == 1
    return download.value.suggested_filename, content


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page."""
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def logins_in(pages: list[str]) -> list[str]:
    return [login for text in pages for login in re.findall(r"Identifiant : (\S+)", text)]


def select_last_words(page, count: int) -> None:
    """Shift+Ctrl+← as many times as words; the next step follows at once (the editor must keep
    the selection even when the focus leaves it before `selectionchange` arrives)."""
    for _ in range(count):
        page.keyboard.press("Shift+Control+ArrowLeft")


# --- 1. issue « console » -----------------------------------------------------------------------

def _a_guardian_to_find(system) -> tuple[str, str]:
    """The first student of the demo school (by name) with a legal-1 guardian account: the first
    letters of the name to type, the first name to spot the row."""
    with system.platform.runtime("accounts").uow() as uow:
        student = uow.session.scalars(
            select(Student).join(AccountLink, AccountLink.student_id == Student.id)
            .join(Account, Account.id == AccountLink.account_id)
            .where(Student.school_uai == UAI, Account.kind == "guardian", AccountLink.ended_at.is_(None))
            .order_by(Student.last_name, Student.first_name).limit(1)).one()
        return student.last_name[:4], student.first_name


def _portal_settings(system):
    from ts_portal.service_layer.school_settings import school_settings

    with system.platform.runtime("portal").uow() as uow:
        return school_settings(uow.session, UAI)


def test_the_head_activates_sets_up_supports_a_guardian_and_delegates_then_the_colleague_sees_only_the_students(
        system, browser):
    from playwright.sync_api import expect

    page, url = browser.page, system.url
    prefix, first_name = _a_guardian_to_find(system)

    with browser.step("sign in: the activation screen comes first"):
        sign_in(page, url, HEAD, HEAD_PASSWORD)
        assert page.url.endswith("/admin/activation")
        assert page.locator("h1").inner_text() == "Activation des téléservices"
        assert "Les téléservices de l'établissement ne sont pas encore activés" in main_text(page)
        assert "Collège Jean Moulin (0541234X)" in page.get_by_role("banner").inner_text()

    with browser.step("activate the online services"):
        with page.expect_navigation():
            page.get_by_role("button", name="Activer les téléservices").click()
        assert page.url.endswith("/admin/services/")
        assert ("Les téléservices de l'établissement sont activés. Ouvrez maintenant les services proposés aux "
                "familles.") in alerts(page)
        assert page.locator("h1").inner_text() == "Ouverture / fermeture des téléservices"

    with browser.step("open Notes (Gestion des téléservices › Ouverture / fermeture)"):
        open_menu(page, "Gestion des téléservices", "Ouverture / fermeture")
        notes = page.locator("fieldset").filter(has=page.locator("legend", has_text=re.compile(r"^\s*Notes\s*$")))
        tick(page, "Ouvert", within=notes)
        with page.expect_navigation():
            page.get_by_role("button", name="Valider").click()
        assert "Téléservices ouvert(s) : Notes." in alerts(page)
        expect(notes.get_by_label("Ouvert", exact=True)).to_be_checked()

    with browser.step("write the welcome message (Paramétrage › Message d'accueil)"):
        open_menu(page, "Paramétrage", "Message d'accueil")
        editor = page.locator("#welcome-editor")
        expect(editor).to_be_visible()
        editor.click()
        page.keyboard.type("Bienvenue au collège Jean Moulin")
        select_last_words(page, 2)
        page.get_by_role("button", name="Gras").click()
        page.keyboard.press("End")
        page.get_by_role("button", name="Gras").click()  # back to plain text
        page.keyboard.type(" ! La rentrée a lieu le 1er septembre ; consultez le site")
        select_last_words(page, 1)
        page.get_by_label("Adresse du lien (http ou https)").fill("https://www.college-moulin.example.fr/rentree")
        page.get_by_role("button", name="Insérer le lien").click()
        expect(page.locator("#welcome-editor-error")).to_be_hidden()
        page.keyboard.press("End")
        page.keyboard.type(" du collège.")
        typed = "Bienvenue au collège Jean Moulin ! La rentrée a lieu le 1er septembre ; consultez le site du collège."
        preview = page.locator("#welcome-preview")
        expect(preview).to_have_text(re.compile(
            r"^Bienvenue au collège Jean Moulin\s! La rentrée a lieu le 1er septembre ; "
            r"consultez le site\sdu collège\.$"))
        expect(preview.locator("b, strong")).to_have_text("Jean Moulin")
        link = preview.get_by_role("link", name="site")
        expect(link).to_have_attribute("href", "https://www.college-moulin.example.fr/rentree")
        expect(link).to_have_attribute("target", "_blank")
        expect(page.locator("#welcome-counter")).to_have_text(f"({len(typed)}/2000 caractères maximum)")
        with page.expect_navigation():
            page.get_by_role("button", name="Valider").click()
        assert ("Le message d'accueil est enregistré : les familles le voient dès maintenant dans « Scolarité "
                "services ».") in alerts(page)
        expect(page.locator("#welcome-preview b, #welcome-preview strong")).to_have_text("Jean Moulin")

    with browser.step("the portal's copy holds the message"):
        wait_for(lambda: (copy := _portal_settings(system)) is not None
                 and "site</a>" in (copy.welcome_message_html or ""), timeout=10)
        message = _portal_settings(system).welcome_message_html
        assert "<b>Jean Moulin</b>" in message or "<strong>Jean Moulin</strong>" in message, message
        assert 'href="https://www.college-moulin.example.fr/rentree"' in message and "<script" not in message

    with browser.step("add two useful links (Paramétrage › Liens utiles)"):
        open_menu(page, "Paramétrage", "Liens utiles")
        assert "Aucun lien utile pour l'instant." in main_text(page)
        for label, address in LINKS:
            page.get_by_label("Libellé").fill(label)
            page.get_by_label("Url").fill(address)
            with page.expect_navigation():
                page.get_by_role("button", name="Ajouter", exact=True).click()
            assert f"Le lien « {label} » est ajouté." in alerts(page)
        listed = table_rows(page.get_by_role("table", name="Liens utiles de l'établissement"))
        assert [(row["Libellé"], row["Url"]) for row in listed] == LINKS
        wait_for(
            lambda: [link["label"] for link in _portal_settings(system).useful_links] == [label for label, _ in LINKS],
            timeout=10,
        )

    with browser.step("find the guardian (Accès des responsables › Gérer le compte)"):
        open_menu(page, "Accès des responsables", "Gérer le compte responsable / élève")
        page.get_by_label("Premières lettres du nom de l'élève").fill(prefix)
        with page.expect_navigation():
            page.get_by_role("button", name="Rechercher").click()
        results = page.locator("main table")
        found = [row for row in table_rows(results)
                 if row["Prénom de l'élève"] == first_name and row["Qualité"] == "Légal 1"]
        assert len(found) == 1, table_rows(results)
        guardian = found[0]
        assert guardian["Nom de l'élève"].lower().startswith(prefix.lower())
        assert guardian["État du compte"] == "Non notifié" and guardian["Date de notification"] == ""
        login = guardian["Identifiant"]
        assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+\d*", login), login
        assert re.search(r"\b\d+ compte\(s\) sélectionné\(s\)", main_text(page))
        # (the guardian's name matches too: their other children are listed, the student's first name tells)
        row = results.locator("tbody tr").filter(has_text=guardian["Responsable"]).filter(has_text="Légal 1") \
            .filter(has_text=first_name)
        with page.expect_navigation():
            row.get_by_role("link", name="Gérer le compte").click()
        detail_url = page.url
        assert page.locator("h1").inner_text() == "Gérer le compte responsable / élève"
        current = table_rows_as_pairs(page.get_by_role("table", name="Compte actuel", exact=True))
        assert current["Identifiant du compte"] == login and current["État du compte"] == "Non notifié"
        assert guardian["Responsable"].split()[0] in main_text(page)

    with browser.step("renotify on paper: the batch page"):
        tick(page, "Courrier papier (PDF)")
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile(r"^Renotifier")).click()
        follow_the_batch(page)
        assert page.locator("h1").inner_text() == f"Renotification de {login}"
        shown = wait_until_finished(page)
        assert f"par {HEAD} – 1 destinataire(s)" in shown
        assert "Courriels envoyés : 0 – courriers dans le PDF : 1 – échecs : 0" in shown

    with browser.step("download the letter (PDF)"):
        filename, content = download_the_pdf(page)
        letters = pdf_pages(content)
        assert filename.endswith(".pdf") and len(letters) == 1
        assert logins_in(letters) == [login] and re.search(r"Mot de passe \* : [A-Z0-9]{8}\b", letters[0])

    with browser.step("the account is « Notifié » on paper today"):
        open_menu(page, "Accès des responsables", "Gérer le compte responsable / élève")
        page.get_by_label("Premières lettres du nom de l'élève").fill(prefix)
        with page.expect_navigation():
            page.get_by_role("button", name="Rechercher").click()
        again = [row for row in table_rows(page.locator("main table")) if row["Identifiant"] == login]
        assert len(again) == 1
        assert (again[0]["État du compte"], again[0]["Date de notification"], again[0]["Mode de notification"]) == (
            "Notifié", today(), "Document papier")
        with page.expect_navigation():
            page.locator("main table tbody tr").filter(has_text=login) \
                .get_by_role("link", name="Gérer le compte").click()
        assert page.url == detail_url

    with browser.step("create a new account for the guardian"):
        tick(page, "Je confirme")
        with page.expect_navigation():
            page.get_by_role("button", name="Créer un nouveau compte").click()
        created = [text for text in alerts(page) if text.startswith("Nouveau compte créé : ")]
        assert len(created) == 1, alerts(page)
        new_login = re.fullmatch(r"Nouveau compte créé : (\S+) \(à notifier\)\.", created[0]).group(1)
        assert new_login != login and new_login.startswith(login.rstrip("0123456789"))
        current = table_rows_as_pairs(page.get_by_role("table", name="Compte actuel", exact=True))
        assert current["Identifiant du compte"] == new_login and current["État du compte"] == "Non notifié"
        history = table_rows(page.get_by_role("table", name="Comptes successifs", exact=True))
        assert [row["Identifiant"] for row in history] == [login, new_login]
        assert "remplacé par un nouveau compte" in history[0]["Fin"] and history[1]["Fin"] == "en cours"

    with browser.step("delegate « Accès des élèves » (Établissement › Délégations)"):
        open_menu(page, "Établissement", "Délégations")
        assert "Aucune délégation." in main_text(page)
        page.get_by_label("Identifiant du personnel").fill(COLLEAGUE)
        page.get_by_label("Nom (nouveau compte seulement)").fill(COLLEAGUE_NAME)
        page.get_by_label(re.compile(r"^Mot de passe initial")).fill(COLLEAGUE_PASSWORD)
        tick(page, STUDENT_ACCESS)
        with page.expect_navigation():
            page.get_by_role("button", name="Enregistrer la délégation").click()
        assert f"Délégation enregistrée pour {COLLEAGUE_NAME} ({COLLEAGUE})." in alerts(page)
        delegates = table_rows(page.get_by_role("table", name="Personnels ayant une délégation"))
        assert [(row["Personnel"], row["Parties déléguées"], row["Dernière connexion"]) for row in delegates] == [
            (f"{COLLEAGUE_NAME} ({COLLEAGUE})", STUDENT_ACCESS, "jamais")]

    with browser.step("every action is in the audit log (Établissement › Journal des actions)"):
        open_menu(page, "Établissement", "Journal des actions")
        entries = table_rows(page.locator("main table"))
        summaries = [row["Détail"] for row in entries]
        assert "Délégation accordée" in {row["Action"] for row in entries}  # the kind of action, in words
        assert {row["Personnel"] for row in entries} == {HEAD}
        expected = [
            "Activation des téléservices de Collège Jean Moulin",
            "Ouverture du téléservice Notes",
            re.compile(r"^Message d'accueil modifié \(\d+ caractères\)$"),
            f"Lien utile ajouté : « {LINKS[0][0]} » ({LINKS[0][1]})",
            f"Lien utile ajouté : « {LINKS[1][0]} » ({LINKS[1][1]})",
            f"Renotification de {login} : 1 compte(s) à notifier (1 par courrier)",
            re.compile(rf"^Nouveau compte {re.escape(new_login)} pour .* à la place de {re.escape(login)}$"),
            f"Délégation à {COLLEAGUE_NAME} ({COLLEAGUE}) : {STUDENT_ACCESS}",
        ]
        chronological = list(reversed(summaries))  # the log shows the newest first
        position = -1
        for action in expected:
            matches = [i for i, summary in enumerate(chronological)
                       if (action.search(summary) if isinstance(action, re.Pattern) else summary == action)]
            assert matches, f"« {action} » is not in the audit log: {summaries}"
            assert matches[0] > position, f"« {action} » is not in the order of the journey: {summaries}"
            position = matches[0]
        for row in entries:
            assert re.fullmatch(r"\d\d/\d\d/\d{4} à \d\d h \d\d", row["Date"]), row

    with browser.step("the colleague signs in: only « Accès des élèves »"):
        sign_out(page)
        sign_in(page, url, COLLEAGUE, COLLEAGUE_PASSWORD)
        assert page.url.endswith("/admin/")
        assert COLLEAGUE_NAME in page.get_by_role("banner").inner_text()
        assert sections_of_the_menu(page) == ["Accueil", "Accès des élèves"]

    with browser.step("the colleague opens the students' pages"):
        open_menu(page, "Accès des élèves", "Gérer le compte élève")
        assert page.locator("h1").inner_text() == "Gérer le compte élève"
        page.get_by_label("Premières lettres du nom de l'élève").fill(prefix)
        with page.expect_navigation():
            page.get_by_role("button", name="Rechercher").click()
        students = [row for row in table_rows(page.locator("main table")) if row["Prénom de l'élève"] == first_name]
        assert len(students) == 1 and students[0]["État du compte"] == "Non notifié"
        with page.expect_navigation():
            page.locator("main table tbody tr").filter(has_text=students[0]["Identifiant"]) \
                .get_by_role("link", name="Gérer le compte").click()
        assert page.locator("h1").inner_text() == "Gérer le compte élève"
        current = table_rows_as_pairs(page.get_by_role("table", name="Compte actuel", exact=True))
        assert current["Identifiant du compte"] == students[0]["Identifiant"]
        for entry, title in [("Notifier en masse", "Notifier les accès des élèves en masse"),
                             ("Éditer les listes des comptes élèves", "Éditer les listes des comptes élèves"),
                             ("Suivi des notifications", "Suivi des notifications")]:
            open_menu(page, "Accès des élèves", entry)
            assert page.locator("h1").inner_text() == title, entry

    with browser.step("the colleague gets the French 403 elsewhere"):
        for path in ("/admin/guardians/", "/admin/guardians/notify", f"{detail_url.removeprefix(url)}",
                     "/admin/settings/welcome", "/admin/settings/links", "/admin/letters/", "/admin/audit",
                     "/admin/delegations"):
            response = page.goto(f"{url}{path}")
            assert response.status == 403, (path, response.status)
            assert page.locator("h1").inner_text() == "Erreur 403", path
            assert FORBIDDEN in main_text(page) and "Traceback" not in page.content(), path
            # Still in the console: its menu and « Se déconnecter » are there.
            assert page.get_by_role("button", name="Accès des élèves").is_visible(), path
            assert page.get_by_role("button", name="Se déconnecter").is_visible(), path


# --- 2. issue « notifier » ------------------------------------------------------------------------

def _selection(page) -> list[dict]:
    """The rows of « Notifier en masse »: who, the address or email shown, whether the email is
    flagged as invalid, the id of its checkbox."""
    rows = []
    for row in page.locator("#ts-selection tbody tr").all():
        cells = [re.sub(r"\s+", " ", c).strip() for c in row.locator("td").all_inner_texts()]
        box = row.get_by_role("checkbox")
        contact = cells[5]
        invalid = row.locator("[aria-label=\"Format d'adresse de messagerie invalide\"]").count() == 1
        rows.append({"student": f"{cells[2]} {cells[1]}", "guardian": cells[3], "rank": cells[4],
                     "contact": contact, "email": contact if "@" in contact and " " not in contact else None,
                     "invalid": invalid, "box_id": box.get_attribute("id")})
    return rows


def _emails_in_the_sink(page, url: str) -> list[tuple[str, str]]:
    """/dev/mail/: each email's recipient and text."""
    page.goto(f"{url}/dev/mail/")
    links = page.locator("table tbody a")
    cells = page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    recipients = [re.sub(r"\s+", " ", cell).strip() for cell in cells]
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert f"{len(hrefs)} courriel(s), du plus récent au plus ancien." in page.inner_text("body")
    emails = []
    for recipient, href in zip(recipients, hrefs, strict=True):
        page.goto(f"{url}{href}")
        emails.append((recipient, page.locator("pre").inner_text()))
    return emails


def insert_field(page, name: str) -> None:
    """« Insérer » beside a field of the letter editor (at the cursor of the text)."""
    field = page.locator(".ts-letters__fields li").filter(
        has=page.locator("code", has_text=re.compile(rf"^\{{\{{ {name} \}}\}}$")))
    field.get_by_role("button", name="Insérer").click()


def test_a_division_is_notified_by_email_and_paper_and_a_letter_body_is_customised(system, browser):
    from playwright.sync_api import expect

    page, url = browser.page, system.url

    with browser.step("sign in and activate"):
        sign_in(page, url, HEAD, HEAD_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Activer les téléservices").click()
        assert page.url.endswith("/admin/services/")

    with browser.step("choose a division (Accès des responsables › Notifier en masse)"):
        open_menu(page, "Accès des responsables", "Notifier en masse")
        assert page.locator("h1").inner_text() == "Notifier les accès des responsables en masse"
        divisions = [value for value in page.get_by_label("Division").locator("option").evaluate_all(
            "options => options.map(option => option.value)") if value]
        assert divisions, "no division in the demo school"
        division = divisions[0]
        page.get_by_label("Division").select_option(division)
        with page.expect_navigation():
            page.get_by_role("button", name="Afficher les comptes").click()
        rows = _selection(page)
        total = len(rows)
        assert total > 10 and all(row["rank"] in ("Légal 1", "Légal 2") for row in rows)
        counter = page.locator("#ts-selection p").filter(has_text="sélectionné(s) sur")
        expect(counter).to_have_text(f"{total} compte(s) sélectionné(s) sur {total}")

    with browser.step("untick one row, « Courriel et courrier », Notifier"):
        left_out = next(row for row in rows if row["email"] and not row["invalid"])
        box = page.locator(f"#{left_out['box_id']}")
        box.click(force=True)  # the box drawn by the label
        expect(box).not_to_be_checked()
        expect(counter).to_have_text(f"{total - 1} compte(s) sélectionné(s) sur {total}")
        tick(page, "Courriel et courrier (courriel si le responsable a une adresse dans SIECLE, courrier sinon)")
        chosen = [row for row in rows if row is not left_out]
        by_email = [row for row in chosen if row["email"] and not row["invalid"]]
        on_paper = [row for row in chosen if not (row["email"] and not row["invalid"])]
        assert by_email and on_paper, "the division needs guardians with and without an email address"
        with page.expect_navigation():
            page.get_by_role("button", name="Notifier", exact=True).click()
        follow_the_batch(page)
        assert page.locator("h1").inner_text() == f"Notification des responsables de {division}"
        assert f"{total - 1} destinataire(s)" in main_text(page)
        current = page.locator("nav.fr-nav .fr-nav__btn[aria-current='true']")
        assert current.count() == 1 and current.inner_text() == "Accès des responsables"

    with browser.step("the progress reaches 100 %"):
        shown = wait_until_finished(page)
        counts = re.search(r"Courriels envoyés : (\d+) – courriers dans le PDF : (\d+) – échecs : (\d+)", shown)
        assert counts, shown
        sent, printed, failed = (int(n) for n in counts.groups())
        assert (sent, printed, failed) == (len(by_email), len(on_paper), 0), shown
        assert f"({total - 1} / {total - 1} traité(s))" in shown

    with browser.step("download the PDF: one page per paper letter"):
        filename, content = download_the_pdf(page)
        letters = pdf_pages(content)
        assert filename.endswith(".pdf")
        assert len(letters) == printed == len(on_paper)
        letter_logins = logins_in(letters)
        assert len(letter_logins) == len(letters)
        for row, text in zip(on_paper, letters, strict=True):  # in the order of the list
            assert row["guardian"].split()[-1] in text, (row, text[:300])

    with browser.step("the emails in /dev/mail/"):
        emails = _emails_in_the_sink(page, url)
        assert sorted(address for address, _ in emails) == sorted(row["email"] for row in by_email)
        emailed_logins = set()
        for address, text in emails:
            login = re.search(r"Identifiant :\s*(\S+)", text)
            password = re.search(r"Mot de passe \* :\s*(\S+)", text)
            assert login and password, text
            assert re.fullmatch(r"[A-Z0-9]{8}", password.group(1)), password.group(1)
            assert f"élève de {division}" in text and url + "/" in text
            emailed_logins.add((address, login.group(1)))

    with browser.step("the accounts are « Notifié » today, by the right mode"):
        page.goto(f"{url}/admin/")
        open_menu(page, "Accès des responsables", "Gérer le compte responsable / élève")
        page.get_by_label("Division").select_option(division)
        with page.expect_navigation():
            page.get_by_role("button", name="Rechercher").click()
        first, last = "Prénom de l'élève", "Nom de l'élève"
        accounts = {(f"{row[first]} {row[last]}", row["Responsable"]): row
                    for row in table_rows(page.locator("main table"))}
        assert len(accounts) == total
        left = accounts[(left_out["student"], left_out["guardian"])]
        assert (left["État du compte"], left["Date de notification"], left["Mode de notification"]) == (
            "Non notifié", "", "")
        for row in by_email:
            account = accounts[(row["student"], row["guardian"])]
            assert (account["État du compte"], account["Date de notification"], account["Mode de notification"]) == (
                "Notifié", today(), "Courrier électronique"), account
            assert (row["email"], account["Identifiant"]) in emailed_logins, (row, account)
        for row in on_paper:
            account = accounts[(row["student"], row["guardian"])]
            assert (account["État du compte"], account["Date de notification"], account["Mode de notification"]) == (
                "Notifié", today(), "Document papier"), account
        assert sorted(letter_logins) == sorted(accounts[(row["student"], row["guardian"])]["Identifiant"]
                                               for row in on_paper)

    with browser.step("preview a letter (Paramétrage › Courriers de notification)"):
        open_menu(page, "Paramétrage", "Courriers de notification")
        assert page.locator("h1").inner_text() == "Courriers de notification"
        part = page.locator("#letter-parts tbody tr").filter(has_text=NEW_GUARDIAN_LETTER)
        assert re.sub(r"\s+", " ", part.locator("td").nth(1).inner_text()).strip() == "Texte par défaut"
        with page.context.expect_event("response", lambda response: response.url.endswith("/apercu")) as answer, \
                page.context.expect_page() as opened:
            part.get_by_role("link", name="Visualiser").click()
        assert answer.value.status == 200
        assert answer.value.headers["content-type"] == "application/pdf"
        opened.value.close()

    with browser.step("edit the body, insert a field, save: customised"):
        with page.expect_navigation():
            part.get_by_role("link", name="Modifier").click()
        assert page.locator("h1").inner_text() == f"Modifier : {NEW_GUARDIAN_LETTER}"
        source = page.locator("#letter-source")
        original = source.input_value()
        assert "{{ mention_cnil }}" in original
        source.click()
        page.keyboard.press("Control+Home")
        page.keyboard.type("<p>À l'attention de la famille de ")
        insert_field(page, "eleve")
        page.keyboard.type(", élève de ")
        insert_field(page, "division")
        page.keyboard.type(".</p>\n")
        assert source.input_value() == ("<p>À l'attention de la famille de {{ eleve }}, élève de {{ division }}.</p>\n"
                                        + original)
        with page.expect_navigation():
            page.get_by_role("button", name="Valider").click()
        assert (f"Le texte « {NEW_GUARDIAN_LETTER} » est enregistré : les prochains courriers l'utiliseront."
                in alerts(page)), alerts(page)
        assert page.locator("h1").inner_text() == "Courriers de notification"
        used = re.sub(r"\s+", " ", page.locator("#letter-parts tbody tr").filter(has_text=NEW_GUARDIAN_LETTER)
                      .locator("td").nth(1).inner_text()).strip()
        assert re.fullmatch(rf"Personnalisé le {re.escape(today())} à \d\d h \d\d par {HEAD}", used), used

    with browser.step("the preview shows the new text"):
        part = page.locator("#letter-parts tbody tr").filter(has_text=NEW_GUARDIAN_LETTER)
        with page.context.expect_event("response", lambda response: response.url.endswith("/apercu")) as answer, \
                page.context.expect_page() as opened:
            part.get_by_role("link", name="Visualiser").click()
        assert answer.value.headers["content-type"] == "application/pdf"
        # The PDF viewer keeps the bytes of the page it opened: the same address, with the same session.
        shown = page.context.request.get(answer.value.url)
        assert shown.ok and shown.headers["content-type"] == "application/pdf"
        preview = " ".join(pdf_pages(shown.body()))
        assert re.search(r"À l'attention de la famille de \S+ \S+, élève de \S+\.", preview), preview[:1500]
        opened.value.close()
