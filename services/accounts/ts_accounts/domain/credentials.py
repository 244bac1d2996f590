"""B3 and B6: temporary passwords and the families' password policy."""
from __future__ import annotations

import secrets

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
