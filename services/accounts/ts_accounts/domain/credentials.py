"""B3 and B6: temporary passwords and the families' password policy; the staff's (J1)."""
from __future__ import annotations

import gzip
import secrets
from functools import lru_cache
from pathlib import Path

# Upper-case letters and digits that cannot be misread on a printed letter: no 0/O, 1/I/L.
TEMPORARY_PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TEMPORARY_PASSWORD_LENGTH = 8
PASSWORD_MIN, PASSWORD_MAX = 8, 14


def new_temporary_password() -> str:
    """8 characters from a cryptographic RNG (e.g. « DCBRJDWH », « 2AKA88DD »)."""
    return "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH))


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
