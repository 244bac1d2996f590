"""Settings for tests: embedded defaults in a temporary folder, overridable per database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ts_shared.config import Settings


def settings_for(data_dir: Path, *, broker_url: str = "memory://localhost/", **database_urls: str) -> Settings:
    env = {"TS_DATA_DIR": str(data_dir), "TS_BROKER_URL": broker_url, "TS_LOG_FORMAT": "text"}
    for service, url in database_urls.items():
        env[f"TS_{service.upper()}_DATABASE_URL"] = url
    return Settings.from_env(env)


def environment_for(settings: Settings) -> dict[str, str]:
    """The TS_* variables that reproduce `settings` in a subprocess."""
    env = {
        "TS_MODE": settings.mode,
        "TS_DATA_DIR": str(settings.data_dir),
        "TS_BROKER_URL": settings.broker_url,
        "TS_SECRET_KEY": settings.secret_key,
        "TS_INTERNAL_TOKEN": settings.internal_token,
        "TS_EVENT_KEY": settings.event_key,
        "TS_CREDENTIAL_KEY": settings.credential_key,
        "TS_LOG_FORMAT": "text",
        "TS_RELAY_POLL_SECONDS": "0.1",
        "TS_RELAY_LEASE_SECONDS": str(settings.relay_lease_seconds),
        "TS_DATABASE_CONNECT_TIMEOUT": str(settings.database_connect_timeout),
        "TS_DATABASE_STATEMENT_TIMEOUT": str(settings.database_statement_timeout),
    }
    if settings.public_url:
        env["TS_PUBLIC_URL"] = settings.public_url
    smtp = settings.smtp
    env.update({"TS_SMTP_HOST": smtp.host, "TS_SMTP_PORT": str(smtp.port), "TS_MAIL_FROM": smtp.sender,
                "TS_SMTP_STARTTLS": "1" if smtp.starttls else "0"})
    for service, url in settings.database_urls.items():
        env[f"TS_{service.upper()}_DATABASE_URL"] = url
    return env


def start_tsctl(settings: Settings, *args: str, crash_point: str | None = None, **popen) -> subprocess.Popen:
    """`tsctl ARGS...` in a subprocess with `settings` (stdout and stderr together in a pipe);
    `crash_point` sets TS_CRASH_POINT (ts_shared.faults)."""
    env = {**os.environ, **environment_for(settings)}
    env.pop("TS_CRASH_POINT", None)
    if crash_point:
        env["TS_CRASH_POINT"] = crash_point
    return subprocess.Popen([sys.executable, "-m", "ts_shared.runtime.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)
