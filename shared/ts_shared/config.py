"""Settings, read once from `TS_*` environment variables (the only configuration source).

Embedded mode (the default) works with no variable at all: SQLite files and generated secrets in
the data folder, the in-process broker. Production mode refuses to start while a secret, or the
password of a database or broker URL, is missing or still a placeholder.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from ts_shared.setup_lock import setup_lock

MODES = ("embedded", "production")

# Values that must never run in production: empty, or the placeholders of deploy/env.example.
_PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "test"}
_SECRET_VARIABLES = ("TS_SECRET_KEY", "TS_INTERNAL_TOKEN", "TS_EVENT_KEY")
# Secrets only some processes hold (the service that needs one refuses to start without it, see
# Settings.require): the key temporary passwords are derived from lives in accounts alone.
_OWN_SECRET_VARIABLES = ("TS_CREDENTIAL_KEY",)
# URLs whose password env.example leaves as change-me (docker-compose.yml builds them from it).
# TS_<SERVICE>_DATABASE_URL, for each service (shared/ lists no services: their names come from here).
_DATABASE_URL_VARIABLE = re.compile(r"^TS_([A-Z][A-Z0-9_]*)_DATABASE_URL$")


def _url_variables(env: Mapping[str, str]) -> list[str]:
    return ["TS_BROKER_URL", *sorted(name for name in env if _DATABASE_URL_VARIABLE.match(name))]


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


# TS_PASSWORD_HASHING: "strong" (the default, OWASP's argon2id profile) or, for the test suites
# only, the smallest argon2id parameters. Production mode refuses the latter.
FAST_PASSWORD_HASHING = "fast-for-tests"
_PASSWORD_HASHING = ("strong", FAST_PASSWORD_HASHING)


def password_hashing(env: Mapping[str, str]) -> str:
    value = env.get("TS_PASSWORD_HASHING", "").strip() or "strong"
    if value not in _PASSWORD_HASHING:
        raise ConfigError(f"TS_PASSWORD_HASHING={value!r}: expected one of {', '.join(_PASSWORD_HASHING)}")
    return value


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={value!r}: expected a boolean (1/0, true/false)")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected an integer") from None


def _is_placeholder(value: str) -> bool:
    return value.strip().lower() in _PLACEHOLDER_SECRETS


def _has_placeholder_password(url: str) -> bool:
    """user:change-me@host (or user:@host); a URL without a password at all is left alone (a
    socket, a .pgpass file, a trusted network may stand for it)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return False  # not a URL: SQLAlchemy or kombu will say so, naming it
    return password is not None and _is_placeholder(unquote(password))


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number of seconds") from None


def _is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (ValueError, TypeError):
        return False


def _embedded_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets of an embedded installation: generated once, kept in the data folder so that
    sessions, tokens and `tsctl` keep working across restarts."""
    path = data_dir / "embedded-secrets.json"
    wanted = (*_SECRET_VARIABLES, *_OWN_SECRET_VARIABLES)
    if path.exists() and all(name in (known := json.loads(path.read_text())) for name in wanted):
        return known
    with setup_lock(data_dir):  # two processes starting together must not make two sets
        values = json.loads(path.read_text()) if path.exists() else {}
        if all(name in values for name in wanted):
            return values
        # An installation made before a secret existed gets it added; the others are kept.
        generated = {
            "TS_SECRET_KEY": lambda: secrets.token_urlsafe(48),
            "TS_INTERNAL_TOKEN": lambda: secrets.token_urlsafe(32),
            "TS_EVENT_KEY": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "TS_CREDENTIAL_KEY": lambda: secrets.token_urlsafe(48),
        }
        values = {name: values.get(name) or generated[name]() for name in wanted}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        tmp.chmod(0o600)
        tmp.replace(path)
        return values


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    sender: str = "Scolarité services <ne-pas-repondre@teleservices.localhost>"


@dataclass(frozen=True)
class Settings:
    mode: str = "embedded"
    data_dir: Path = Path("data")
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = field(default="", repr=False)
    internal_token: str = field(default="", repr=False)
    event_key: str = field(default="", repr=False)
    # The key temporary passwords are derived from (accounts only; see docs/credentials.md).
    credential_key: str = field(default="", repr=False)
    broker_url: str = "memory://localhost/"
    database_urls: Mapping[str, str] = field(default_factory=dict)
    accounts_internal_url: str = "http://127.0.0.1:8081"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    log_level: str = "INFO"
    log_format: str = "json"
    staff_session_minutes: int = 120
    relay_batch_size: int = 100
    relay_poll_seconds: float = 0.5
    # How long a relay owns the rows it claimed: a relay that dies mid-batch delays them this long.
    relay_lease_seconds: float = 30.0
    # PostgreSQL: seconds before a connection attempt, or a statement, to a silent database fails.
    database_connect_timeout: int = 5
    database_statement_timeout: float = 60.0

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"

    def require(self, name: str) -> str:
        """A secret only some processes hold (`credential_key`): its value, or ConfigError when
        this process was started without it."""
        value = getattr(self, name)
        if not value:
            raise ConfigError(f"TS_{name.upper()} is not set: the accounts service needs it (see deploy/env.example)")
        return value

    def database_url(self, service: str) -> str:
        """TS_<SERVICE>_DATABASE_URL; in embedded mode, a SQLite file of the data folder by default."""
        if service in self.database_urls:
            return self.database_urls[service]
        if self.embedded:
            return f"sqlite:///{self.data_dir / (service + '.sqlite')}"
        raise ConfigError(f"TS_{service.upper()}_DATABASE_URL is not set (required in production mode)")

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        mode = env.get("TS_MODE", "embedded").strip().lower()
        if mode not in MODES:
            raise ConfigError(f"TS_MODE={mode!r}: expected one of {', '.join(MODES)}")
        password_hashing(env)  # a typo is told at start, not at the first sign-in
        data_dir = Path(env.get("TS_DATA_DIR", "data")).resolve()
        port = _int(env.get("TS_PORT", "8080"), "TS_PORT")

        if mode == "embedded":
            generated = _embedded_secrets(data_dir)
            for name in (*_SECRET_VARIABLES, *_OWN_SECRET_VARIABLES):
                env.setdefault(name, generated[name])
        else:
            bad = [n for n in _SECRET_VARIABLES if _is_placeholder(env.get(n, ""))]
            short = [n for n in _SECRET_VARIABLES if n not in bad and len(env[n]) < 32]
            problems = [f"{n} is missing or a placeholder" for n in bad]
            if password_hashing(env) != "strong":
                problems.append(f"TS_PASSWORD_HASHING={FAST_PASSWORD_HASHING} is for the test suites only")
            problems += [f"{n} is shorter than 32 characters" for n in short]
            # The value itself is never repeated: it holds a password.
            problems += [f"{n} has a placeholder password (change-me…)" for n in _url_variables(env)
                         if n in env and _has_placeholder_password(env[n])]
            if env.get("TS_SMTP_USERNAME", "").strip() and _is_placeholder(env.get("TS_SMTP_PASSWORD", "")):
                problems.append("TS_SMTP_PASSWORD is missing or a placeholder while TS_SMTP_USERNAME is set")
            for name in _OWN_SECRET_VARIABLES:  # optional per process, never weak when given
                if name in env and (_is_placeholder(env[name]) or len(env[name]) < 32):
                    problems.append(f"{name} is a placeholder or shorter than 32 characters")
            if "TS_EVENT_KEY" not in bad and not _is_fernet_key(env["TS_EVENT_KEY"]):
                problems.append(
                    "TS_EVENT_KEY is not a Fernet key (32 url-safe base64 bytes; "
                    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
                )
            if problems:
                raise ConfigError("production mode refuses to start: " + "; ".join(problems))

        database_urls = {match[1].lower(): value for name, value in env.items()
                         if (match := _DATABASE_URL_VARIABLE.match(name))}
        smtp = SmtpSettings(
            host=env.get("TS_SMTP_HOST", SmtpSettings.host),
            port=_int(env.get("TS_SMTP_PORT", str(SmtpSettings.port)), "TS_SMTP_PORT"),
            username=env.get("TS_SMTP_USERNAME", ""),
            password=env.get("TS_SMTP_PASSWORD", ""),
            starttls=_bool(env.get("TS_SMTP_STARTTLS", "0"), "TS_SMTP_STARTTLS"),
            sender=env.get("TS_MAIL_FROM", SmtpSettings.sender),
        )
        return cls(
            mode=mode,
            data_dir=data_dir,
            port=port,
            public_url=env.get("TS_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            secret_key=env["TS_SECRET_KEY"],
            internal_token=env["TS_INTERNAL_TOKEN"],
            event_key=env["TS_EVENT_KEY"],
            credential_key=env.get("TS_CREDENTIAL_KEY", ""),
            broker_url=env.get("TS_BROKER_URL", "memory://localhost/" if mode == "embedded" else "amqp://guest:guest@127.0.0.1:5672//"),
            database_urls=database_urls,
            accounts_internal_url=env.get("TS_ACCOUNTS_INTERNAL_URL", "http://127.0.0.1:8081").rstrip("/"),
            smtp=smtp,
            log_level=env.get("TS_LOG_LEVEL", "INFO").upper(),
            log_format=env.get("TS_LOG_FORMAT", "json" if mode == "production" else "text"),
            staff_session_minutes=_int(env.get("TS_STAFF_SESSION_MINUTES", "120"), "TS_STAFF_SESSION_MINUTES"),
            relay_batch_size=_int(env.get("TS_RELAY_BATCH_SIZE", "100"), "TS_RELAY_BATCH_SIZE"),
            relay_poll_seconds=_float(env.get("TS_RELAY_POLL_SECONDS", "0.5"), "TS_RELAY_POLL_SECONDS"),
            relay_lease_seconds=_float(env.get("TS_RELAY_LEASE_SECONDS", "30"), "TS_RELAY_LEASE_SECONDS"),
            database_connect_timeout=_int(env.get("TS_DATABASE_CONNECT_TIMEOUT", "5"), "TS_DATABASE_CONNECT_TIMEOUT"),
            database_statement_timeout=_float(env.get("TS_DATABASE_STATEMENT_TIMEOUT", "60"),
                                              "TS_DATABASE_STATEMENT_TIMEOUT"),
        )
