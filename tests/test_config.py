"""Configuration comes only from TS_* variables; production refuses weak secrets."""
from __future__ import annotations

import multiprocessing

import pytest

from ts_shared.config import ConfigError, Settings

STRONG = {"TS_SECRET_KEY": "s" * 40, "TS_INTERNAL_TOKEN": "t" * 40,
          "TS_EVENT_KEY": "a2V5LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzLWxvbmc="}


def test_embedded_defaults_need_no_variable_and_keep_their_secrets(tmp_path):
    first = Settings.from_env({"TS_DATA_DIR": str(tmp_path)})
    again = Settings.from_env({"TS_DATA_DIR": str(tmp_path)})
    assert first.embedded and first.broker_url.startswith("memory://")
    assert first.database_url("accounts") == f"sqlite:///{tmp_path / 'accounts.sqlite'}"
    assert len(first.secret_key) >= 32 and first.secret_key == again.secret_key
    assert (tmp_path / "embedded-secrets.json").stat().st_mode & 0o077 == 0
    assert len(first.credential_key) >= 32 and first.credential_key == again.credential_key
    assert len({first.secret_key, first.credential_key, first.internal_token}) == 3


def test_an_embedded_installation_from_before_the_credential_key_gets_one_and_keeps_its_other_secrets(tmp_path):
    import json

    older = {"TS_SECRET_KEY": "s" * 48, "TS_INTERNAL_TOKEN": "t" * 32, "TS_EVENT_KEY": STRONG["TS_EVENT_KEY"]}
    (tmp_path / "embedded-secrets.json").write_text(json.dumps(older))
    settings = Settings.from_env({"TS_DATA_DIR": str(tmp_path)})
    assert (settings.secret_key, settings.internal_token, settings.event_key) == tuple(older.values())
    assert len(settings.credential_key) >= 32
    assert Settings.from_env({"TS_DATA_DIR": str(tmp_path)}).credential_key == settings.credential_key


def test_the_credential_key_is_required_where_it_is_used_and_never_weak(tmp_path):
    production = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path)}
    settings = Settings.from_env(production)  # a notifier, portal or stats process: not theirs
    with pytest.raises(ConfigError, match="TS_CREDENTIAL_KEY is not set"):
        settings.require("credential_key")
    for weak in ("change-me", "short-key"):
        with pytest.raises(ConfigError, match="TS_CREDENTIAL_KEY is a placeholder or shorter than 32"):
            Settings.from_env({**production, "TS_CREDENTIAL_KEY": weak})
    assert Settings.from_env({**production, "TS_CREDENTIAL_KEY": "c" * 40}).require("credential_key") == "c" * 40


@pytest.mark.parametrize("value", ["", "change-me", "dev"])
def test_production_refuses_to_start_with_a_default_secret_key(tmp_path, value):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), "TS_SECRET_KEY": value}
    with pytest.raises(ConfigError, match="TS_SECRET_KEY is missing or a placeholder"):
        Settings.from_env(env)


def test_production_refuses_short_secrets(tmp_path):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), "TS_INTERNAL_TOKEN": "short-token"}
    with pytest.raises(ConfigError, match="TS_INTERNAL_TOKEN is shorter than 32"):
        Settings.from_env(env)


def test_production_needs_each_database_url_it_uses(tmp_path):
    settings = Settings.from_env({**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path),
                                  "TS_PORTAL_DATABASE_URL": "postgresql+psycopg://db/portal"})
    assert settings.database_url("portal") == "postgresql+psycopg://db/portal"
    assert settings.broker_url.startswith("amqp://")
    with pytest.raises(ConfigError, match="TS_ACCOUNTS_DATABASE_URL is not set"):
        settings.database_url("accounts")
    assert not (tmp_path / "embedded-secrets.json").exists()


@pytest.mark.parametrize("variable,url", [
    ("TS_BROKER_URL", "amqp://teleservices:change-me@rabbitmq:5672//"),
    ("TS_ACCOUNTS_DATABASE_URL", "postgresql+psycopg://accounts:change-me@postgres:5432/accounts"),
    ("TS_NOTIFIER_DATABASE_URL", "postgresql+psycopg://notifier:CHANGE-ME@postgres:5432/notifier"),
    ("TS_PORTAL_DATABASE_URL", "postgresql+psycopg://portal:change%2Dme@postgres:5432/portal"),  # percent-encoded
    ("TS_STATS_DATABASE_URL", "postgresql+psycopg://stats:@postgres:5432/stats"),  # an empty password
])
def test_production_refuses_a_placeholder_password_in_a_database_or_broker_url(tmp_path, variable, url):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), variable: url}
    with pytest.raises(ConfigError, match=f"{variable} has a placeholder password") as refused:
        Settings.from_env(env)
    assert "@postgres" not in str(refused.value) and "@rabbitmq" not in str(refused.value)  # never the URL itself


def test_production_accepts_real_passwords_and_urls_without_one(tmp_path):
    settings = Settings.from_env({
        **STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path),
        "TS_BROKER_URL": "amqp://teleservices:9f2c4e1a7b3d@rabbitmq:5672//",
        "TS_ACCOUNTS_DATABASE_URL": "postgresql+psycopg://accounts:c0ffee-change-me-not@postgres:5432/accounts",
        "TS_PORTAL_DATABASE_URL": "postgresql+psycopg:///portal?host=/run/postgresql"})
    assert settings.database_url("portal") == "postgresql+psycopg:///portal?host=/run/postgresql"


def test_production_refuses_a_placeholder_smtp_password_only_when_it_signs_in(tmp_path):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), "TS_SMTP_PASSWORD": "change-me"}
    assert Settings.from_env(env).smtp.username == ""  # a relay without authentication: the password is unused
    with pytest.raises(ConfigError, match="TS_SMTP_PASSWORD is missing or a placeholder"):
        Settings.from_env({**env, "TS_SMTP_USERNAME": "teleservices"})


@pytest.mark.parametrize("variable,value,message", [
    ("TS_MODE", "staging", "TS_MODE='staging'"),
    ("TS_PORT", "eighty", "TS_PORT='eighty': expected an integer"),
    ("TS_SMTP_STARTTLS", "maybe", "TS_SMTP_STARTTLS='maybe': expected a boolean"),
])
def test_a_malformed_variable_is_named_in_the_error(tmp_path, variable, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env({"TS_DATA_DIR": str(tmp_path), variable: value})


def test_production_refuses_an_event_key_that_cannot_encrypt(tmp_path):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), "TS_EVENT_KEY": "k" * 44}
    with pytest.raises(ConfigError, match="TS_EVENT_KEY is not a Fernet key"):
        Settings.from_env(env)


def test_secrets_sealed_with_the_event_key_open_only_with_it(tmp_path):
    from ts_shared.crypto import SecretBox, SecretBoxError

    box = SecretBox(Settings.from_env({"TS_DATA_DIR": str(tmp_path)}).event_key)
    sealed = box.seal("DCBRJDWH")
    assert "DCBRJDWH" not in sealed and box.open(sealed) == "DCBRJDWH"
    with pytest.raises(SecretBoxError):
        SecretBox(Settings.from_env({"TS_DATA_DIR": str(tmp_path / "other")}).event_key).open(sealed)


def _secret_key_of(data_dir: str, barrier) -> str:
    barrier.wait()  # every process reads the folder at the same moment
    return Settings.from_env({"TS_DATA_DIR": data_dir}).secret_key


def test_processes_starting_together_on_a_new_folder_share_one_set_of_secrets(tmp_path):
    """gunicorn's workers of an embedded run: a session signed by one must be valid in another."""
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(8)
        with context.Pool(8) as pool:
            keys = pool.starmap(_secret_key_of, [(str(tmp_path / "data"), barrier)] * 8)
    assert len(set(keys)) == 1


def test_production_refuses_the_fast_password_hashing_of_the_test_suites(tmp_path):
    env = {**STRONG, "TS_MODE": "production", "TS_DATA_DIR": str(tmp_path), "TS_PASSWORD_HASHING": "fast-for-tests"}
    with pytest.raises(ConfigError, match="TS_PASSWORD_HASHING=fast-for-tests is for the test suites only"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "TS_PASSWORD_HASHING": "strong"}).mode == "production"
    assert Settings.from_env({**env, "TS_PASSWORD_HASHING": ""}).mode == "production"


def test_an_unknown_password_hashing_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="TS_PASSWORD_HASHING='weak': expected one of strong, fast-for-tests"):
        Settings.from_env({"TS_DATA_DIR": str(tmp_path), "TS_PASSWORD_HASHING": "weak"})
