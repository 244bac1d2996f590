"""B3 and B6: temporary passwords and the families' password policy."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from argon2 import extract_parameters

from ts_accounts.adapters.passwords import HASHERS, hash_password, hash_passwords, verify_password
from ts_accounts.domain.credentials import TEMPORARY_PASSWORD_ALPHABET, new_temporary_password, password_problems


def test_a_temporary_password_has_8_unambiguous_upper_case_letters_and_digits():
    passwords = {new_temporary_password() for _ in range(2000)}
    assert len(passwords) == 2000  # a cryptographic RNG: no repeats at this scale
    for password in passwords:
        assert len(password) == 8 and set(password) <= set(TEMPORARY_PASSWORD_ALPHABET)
    assert not set("01OIL") & set(TEMPORARY_PASSWORD_ALPHABET)
    # Every symbol turns up: the whole alphabet is used.
    assert set("".join(passwords)) == set(TEMPORARY_PASSWORD_ALPHABET)


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


def test_a_batch_of_passwords_is_hashed_in_order_each_hash_verifying_its_own_password():
    passwords = [f"PASSWD{n:02d}" for n in range(6)]
    hashes = hash_passwords(passwords)
    assert len(set(hashes)) == 6
    assert all(verify_password(hashed, password) for hashed, password in zip(hashes, passwords, strict=True))
    assert not verify_password(hashes[0], passwords[1])
    assert hash_passwords([]) == []


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
