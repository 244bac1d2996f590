"""B3 and B6: temporary passwords and the families' password policy."""
from __future__ import annotations

import pytest

from ts_accounts.adapters.passwords import hash_password, hash_passwords, verify_password
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
