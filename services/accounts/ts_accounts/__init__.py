"""Accounts service: schools and their settings, imported people, accounts and credentials,
staff users and their rights, audit log; the staff console, the staff API and the identity API."""
