"""B3 and B6: temporary passwords and the families' password policy."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from argon2 import extract_parameters

from ts_accounts.adapters.passwords import HASHERS, hash_password, verify_password
from ts_accounts.domain.credentials import (
    TEMPORARY_PASSWORD_ALPHABET, derive_temporary_password, password_problems, temporary_password_matches,
    typed_temporary_password,
)

KEY = "k" * 48


def test_a_temporary_password_has_8_unambiguous_upper_case_letters_and_digits():
    passwords = {derive_temporary_password(KEY, f"account-{n}", 1) for n in range(2000)}
    assert len(passwords) == 2000  # no repeats at this scale (31^8 values)
    for password in passwords:
        assert len(password) == 8 and set(password) <= set(TEMPORARY_PASSWORD_ALPHABET)
    assert not set("01OIL") & set(TEMPORARY_PASSWORD_ALPHABET)
    # Every symbol turns up, in every position: the whole alphabet is used.
    for position in range(8):
        assert {password[position] for password in passwords} == set(TEMPORARY_PASSWORD_ALPHABET)


def test_a_temporary_password_is_the_same_each_time_and_changes_with_the_serial_the_account_or_the_key():
    password = derive_temporary_password(KEY, "a1", 1)
    assert derive_temporary_password(KEY, "a1", 1) == password  # printed again identically
    others = {derive_temporary_password(KEY, "a1", 2), derive_temporary_password(KEY, "a2", 1),
              derive_temporary_password("r" * 48, "a1", 1), derive_temporary_password(KEY, "a11", 1)}
    assert password not in others and len(others) == 4
    with pytest.raises(ValueError):
        derive_temporary_password(KEY, "a1", 0)


def test_a_temporary_password_is_checked_whatever_its_case_and_the_spaces_around_it():
    password = derive_temporary_password(KEY, "a1", 3)
    for typed in (password, password.lower(), f"  {password} ", f"{password[:4]} {password[4:].lower()}\t"):
        assert typed_temporary_password(typed) == password
        assert temporary_password_matches(KEY, "a1", 3, typed)
    assert not temporary_password_matches(KEY, "a1", 2, password)  # the previous serial's letter
    assert not temporary_password_matches(KEY, "a2", 3, password)
    assert not temporary_password_matches(KEY, "a1", 0, derive_temporary_password(KEY, "a1", 1))  # none issued
    assert not temporary_password_matches(KEY, "a1", 3, None) and not temporary_password_matches(KEY, "a1", 3, "é")


@pytest.mark.parametrize("password,problem", [
    ("abc123", "de 8 à 14 caractères"),
    ("abcdefgh12345678", "de 8 à 14 caractères"),
    ("abcdefghij", "au moins un chiffre"),
    ("1234567890", "au moins une lettre"),
])
def test_a_password_that_breaks_the_policy_is_refused_with_the_reason(password, problem):
    assert any(problem in message for message in password_problems(password))


@pytest.mark.parametrize("password", ["motdepasse1", "Ab345678", "14caracteres99"])
def test_a_password_of_8_to_14_characters_with_letters_and_digits_is_accepted(password):
    assert password_problems(password) == []


def test_only_an_argon2id_hash_is_stored_and_it_verifies_only_the_right_password():
    stored = hash_password("DCBRJDWH")
    assert stored.startswith("$argon2id$") and "DCBRJDWH" not in stored
    assert verify_password(stored, "DCBRJDWH")
    assert not verify_password(stored, "DCBRJDWX")
    assert not verify_password(None, "DCBRJDWH")


def test_without_the_test_setting_passwords_are_hashed_with_owasps_argon2id_profile():
    """The suites run with TS_PASSWORD_HASHING=fast-for-tests (conftest.py); a process without it
    (production: Settings refuses the fast value) hashes with 19 MiB and 2 passes."""
    script = ("from argon2 import extract_parameters\n"
              "from ts_accounts.adapters.passwords import _DUMMY_HASH, hash_password\n"
              "for hashed in (hash_password('x'), _DUMMY_HASH):\n"
              "    p = extract_parameters(hashed)\n"
              "    print(p.type.name, p.time_cost, p.memory_cost, p.parallelism)\n")
    env = {name: value for name, value in os.environ.items() if name != "TS_PASSWORD_HASHING"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["ID 2 19456 1", "ID 2 19456 1"]
    strong = HASHERS["strong"]
    assert (strong.time_cost, strong.memory_cost, strong.parallelism) == (2, 19456, 1)


def test_under_the_test_suites_the_smallest_argon2id_parameters_are_used():
    assert os.environ["TS_PASSWORD_HASHING"] == "fast-for-tests"
    parameters = extract_parameters(hash_password("x"))
    assert (parameters.type.name, parameters.time_cost, parameters.memory_cost) == ("ID", 1, 8)
