"""The console's header at 200 % zoom and on a tablet (DSFR): the « Menu » button keeps the user's
name and the sign-out within reach, and the menu opens over the page instead of pushing it below
the fold. Headless Chromium on the embedded gateway."""
from __future__ import annotations

import re

import pytest
from werkzeug.test import Client

from support.browser import chromium, served
from support.bus import reset_memory_broker
from support.console_walk import csrf, sign_in
from support.settings import settings_for
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.process import Platform

HEAD_NAME = "Mme Claire Martin"


@pytest.fixture(scope="module")
def console_url(tmp_path_factory):
    reset_memory_broker()
    platform = Platform(settings_for(tmp_path_factory.mktemp("header")))
    for name, spec in platform.specs.items():
        platform.runtime(name).migrate()
        if spec.seed_demo:
            spec.seed_demo(platform.runtime(name))
    gateway = Gateway({name: spec.create_app(platform.runtime(name)) for name, spec in platform.specs.items()})
    client = Client(gateway)
    sign_in(client, "chef.demo", "demo-chef-2026")
    client.post("/admin/activation", data={"csrf_token": csrf(client.get("/admin/activation").text)})
    with served(gateway) as url:
        yield url, _a_used_guardian(platform)
    platform.dispose()


def _a_used_guardian(platform) -> str:
    """A guardian account of the demo made « Utilisé » (with a confirmed address): its page."""
    from sqlalchemy import select

    from ts_accounts.adapters.orm import Account, AccountLink, Guardian, Student
    from ts_shared.db import utcnow

    with platform.runtime("accounts").uow() as uow:
        account, student, guardian = uow.session.execute(
            select(Account, Student.siecle_id, Guardian.siecle_id)
            .join(AccountLink, AccountLink.account_id == Account.id)
            .join(Student, Student.id == AccountLink.student_id)
            .join(Guardian, Guardian.id == AccountLink.guardian_id).limit(1)).one()
        account.state, account.email, account.email_confirmed_at = "used", "famille@example.org", utcnow()
        account.activated_at = account.notified_at = utcnow()
        uow.commit()
    return f"/admin/guardians/{student}/{guardian}"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _signed_in_page(browser, url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "/admin/login")
    page.get_by_label("Identifiant").fill("chef.demo")
    page.get_by_label("Mot de passe").fill("demo-chef-2026")
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    page.goto(url + "/admin/guardians/")
    return context, page, errors


@pytest.mark.parametrize("width,height", [(640, 400), (768, 1024)], ids=["200 % zoom", "tablet"])
def test_on_a_narrow_screen_the_menu_button_keeps_the_name_and_the_sign_out(browser, console_url, width, height):
    from playwright.sync_api import expect

    url, _ = console_url
    context, page, errors = _signed_in_page(browser, url, width, height)
    try:
        title = page.locator("main h1")
        assert title.bounding_box()["y"] + title.bounding_box()["height"] <= height  # the page starts on screen
        menu = page.locator("#button-menu")
        expect(menu).to_be_visible()
        expect(page.locator(".fr-header__tools-links")).to_be_hidden()
        menu.click()
        modal = page.locator("#modal-menu")
        expect(modal).to_be_visible()
        expect(modal.get_by_role("link", name=HEAD_NAME)).to_be_visible()
        expect(modal.get_by_role("button", name="Accès des responsables")).to_be_visible()
        sign_out = modal.get_by_role("button", name="Se déconnecter")
        expect(sign_out).to_be_visible()
        with page.expect_navigation():
            sign_out.click()
        page.goto(url + "/admin/")
        assert re.search(r"/admin/login", page.url) and errors == []
    finally:
        context.close()


def test_on_a_wide_screen_the_tools_and_the_menu_bar_show_as_they_are(browser, console_url):
    from playwright.sync_api import expect

    url, _ = console_url
    context, page, errors = _signed_in_page(browser, url, 1280, 800)
    try:
        expect(page.locator("#button-menu")).to_be_hidden()
        tools = page.locator(".fr-header__tools-links")
        expect(tools.get_by_role("link", name=HEAD_NAME)).to_be_visible()
        expect(tools.get_by_role("button", name="Se déconnecter")).to_be_visible()
        expect(page.get_by_role("navigation", name="Menu principal").get_by_role(
            "button", name="Accès des responsables")).to_be_visible()
        assert errors == []
    finally:
        context.close()


def test_the_renotify_button_says_what_it_will_do_as_the_box_is_ticked(browser, console_url):
    from playwright.sync_api import expect

    url, used = console_url
    context, page, errors = _signed_in_page(browser, url, 1280, 800)
    try:
        page.goto(url + used)
        button = page.locator("#renotify-form button[type=submit]")
        expect(button).to_have_text("Renotifier (rappel de l'identifiant)")
        expect(page.get_by_label("Courriel à famille@example.org")).to_be_checked()  # by email first
        box = page.locator("label[for=reset_password]")  # DSFR draws the box on the label
        box.click()
        expect(button).to_have_text("Renotifier avec un nouveau mot de passe")
        box.click()
        expect(button).to_have_text("Renotifier (rappel de l'identifiant)")
        assert errors == []
    finally:
        context.close()
