"""B3 and B6: temporary passwords and the families' password policy; the staff's (J1).

A temporary password is derived, never stored: HMAC-SHA256 of a server key dedicated to it
(TS_CREDENTIAL_KEY) over the account's id and its credential serial, mapped onto an alphabet
that cannot be misread. The database keeps the serial (a counter: a new password is serial + 1),
so the same letter can be printed again, and nothing in it gives the password back without the
key. Rotating the key changes every outstanding temporary password. See docs/credentials.md.
"""
from __future__ import annotations

import gzip
import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

# Upper-case letters and digits that cannot be misread on a printed letter: no 0/O, 1/I/L.
TEMPORARY_PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TEMPORARY_PASSWORD_LENGTH = 8
PASSWORD_MIN, PASSWORD_MAX = 8, 14
_DERIVATION_LABEL = b"teleservices/temporary-password/v1"


def derive_temporary_password(key: str, account_id: str, serial: int) -> str:
    """The temporary password number `serial` of an account: 8 characters of the alphabet read
    from an HMAC-SHA256 (256 bits folded onto 31^8 ≈ 2^39.6 values: no measurable bias)."""
    if serial < 1:
        raise ValueError("a temporary password's serial starts at 1")
    message = b"\x00".join((_DERIVATION_LABEL, account_id.encode(), str(serial).encode()))
    number = int.from_bytes(hmac.new(key.encode(), message, hashlib.sha256).digest(), "big")
    characters = []
    for _ in range(TEMPORARY_PASSWORD_LENGTH):
        number, index = divmod(number, len(TEMPORARY_PASSWORD_ALPHABET))
        characters.append(TEMPORARY_PASSWORD_ALPHABET[index])
    return "".join(characters)


def typed_temporary_password(typed: str | None) -> str:
    """What a family typed, as the letter prints it: the alphabet has no ambiguous letters, so
    case and spaces (around it, or between groups) carry nothing."""
    return "".join((typed or "").split()).upper()


def temporary_password_matches(key: str, account_id: str, serial: int, typed: str | None) -> bool:
    """Whether `typed` is the temporary password number `serial` (constant time)."""
    expected = derive_temporary_password(key, account_id, max(serial, 1))
    return hmac.compare_digest(expected.encode(), typed_temporary_password(typed).encode()) and serial >= 1


def password_problems(password: str) -> list[str]:
    """What is wrong with a password a family chose (B6), in French; empty when it is fine."""
    problems = []
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        problems.append(f"Le mot de passe doit comporter de {PASSWORD_MIN} à {PASSWORD_MAX} caractères.")
    if not any(c.isalpha() for c in password or ""):
        problems.append("Le mot de passe doit contenir au moins une lettre.")
    if not any(c.isdigit() for c in password or ""):
        problems.append("Le mot de passe doit contenir au moins un chiffre.")
    return problems


# --- staff passwords (J1) -------------------------------------------------------------------------

STAFF_PASSWORD_MIN = 10
STAFF_PASSWORD_MAX = 200
# The 20,000 most common passwords (Royce Williams' list, as Django 5.2 ships it, BSD licence):
# a staff password that opens a school's population must not be one of them.
_COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def staff_password_problems(password: str, *, login: str) -> list[str]:
    """What is wrong with a staff password, in French; empty when it is fine."""
    password = password or ""
    problems = []
    if len(password) < STAFF_PASSWORD_MIN:
        problems.append(f"Le mot de passe doit comporter au moins {STAFF_PASSWORD_MIN} caractères.")
    if len(password) > STAFF_PASSWORD_MAX:
        problems.append(f"Le mot de passe doit comporter au plus {STAFF_PASSWORD_MAX} caractères.")
    if password.lower() in _common_passwords():
        problems.append("Ce mot de passe fait partie des mots de passe les plus courants : choisissez-en un autre.")
    if login and login.strip().lower() in password.lower():
        problems.append("Le mot de passe ne doit pas contenir l'identifiant.")
    return problems
