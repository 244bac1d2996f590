"""The production deployment (docker-compose.yml, deploy/) agrees with the code it runs.

No Docker daemon is needed: the compose file is read as YAML (and validated by `docker-compose
config` when that command is installed), its commands are checked against tsctl, the services'
entry points and the embedded gateway's routes, and gunicorn, nginx and the PostgreSQL init
script are run for real when their programs are present (nginx: on PATH, or TS_TEST_NGINX).
"""
from __future__ import annotations

import glob
import http.client
import json
import os
import pwd
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import yaml

from support.deploy_topology import load_deploy_topology
from support.nginx import NGINX_CONF, nginx_executable, nginx_gateway
from ts_shared.runtime.mail_sink import free_port
from ts_shared.config import ConfigError, Settings
from ts_shared.runtime.cli import cli
from ts_shared.runtime.gateway import BLOCKED_PREFIXES, ROUTES, STAFF_CHECKED_SERVICES, route_for
from ts_shared.service import discover_services
from ts_shared.web.staff_session import STAFF_IDENTITY_HEADER, STAFF_SESSION_CHECK_PATH

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"

SPECS = discover_services()
CONSUMERS = {name for name, spec in SPECS.items() if spec.subscription is not None}


# --- Reading the compose file ---------------------------------------------------------------

def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _containers(program: str) -> dict[str, list[str]]:
    """Compose services whose command starts with `program`, with their command."""
    found = {}
    for name, service in _compose()["services"].items():
        command = _command(service)
        if command and command[0] == program:
            found[name] = command
    return found


def _tsctl(subcommand: str) -> dict[str, str]:
    """`tsctl worker X` / `tsctl relay X` containers: compose service name -> X."""
    return {name: command[2] for name, command in _containers("tsctl").items()
            if command[1:2] == [subcommand] and len(command) == 3}


def _app_containers() -> dict[str, dict]:
    """The containers running the project's image (built from deploy/Dockerfile)."""
    return {name: service for name, service in _compose()["services"].items() if "build" in service}


# Compose's variable substitution, as the native topology run does it.
_topology = load_deploy_topology()
MissingVariable = _topology.TopologyError
_interpolate = _topology.interpolate
_VARIABLE = _topology._VARIABLE


def _environment(service: dict, env: dict[str, str]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in _interpolate(environment, env).items()}


def _compose_variables() -> tuple[set[str], set[str]]:
    """Every variable the compose file reads, and those it requires (`:?`)."""
    text = COMPOSE_FILE.read_text()
    found = {match["name"] for match in _VARIABLE.finditer(text)}
    required = {match["name"] for match in _VARIABLE.finditer(text) if match["op"] == ":?"}
    return found, required


def _strong_environment() -> dict[str, str]:
    """Values for every required variable that production mode accepts."""
    _, required = _compose_variables()
    env = {name: f"{name.lower()}-{'x' * 40}" for name in required}
    env["TS_EVENT_KEY"] = "a2V5LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzLWxvbmc="
    env["TS_PUBLIC_URL"] = "https://teleservices.example.fr"
    env["TS_MAIL_FROM"] = "Scolarité services <ne-pas-repondre@example.fr>"
    return env


def _docker_compose(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`docker-compose -f docker-compose.yml ...` with exactly `env` (an empty .env file, so that
    a developer's own .env cannot hide a missing variable)."""
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose): "
                    "the compose file was only checked as YAML")
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    process_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}
    return subprocess.run([executable, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
                          cwd=ROOT, env=process_env, capture_output=True, text=True, timeout=120)


# --- The compose file -----------------------------------------------------------------------

def test_the_compose_file_parses_and_runs_every_part_of_the_platform():
    services = _compose()["services"]
    assert {"rabbitmq", "postgres", "migrate", "gateway"} <= set(services)
    assert set(_containers("gunicorn")) == set(SPECS), "one web container per service, named after it"
    assert services["gateway"]["image"].startswith("nginx:")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13-management")
    assert services["postgres"]["image"] == "postgres:15"


def test_docker_compose_accepts_the_file_when_the_required_variables_are_set(tmp_path):
    result = _docker_compose(["config"], _strong_environment(), tmp_path)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert rendered["services"]["accounts"]["environment"]["TS_MODE"] == "production"


def test_compose_requires_every_secret_wherever_it_is_used():
    text = COMPOSE_FILE.read_text()
    _, required = _compose_variables()
    for secret in ("TS_SECRET_KEY", "TS_INTERNAL_TOKEN", "TS_EVENT_KEY", "TS_CREDENTIAL_KEY"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), f"{secret} must be ${{{secret}:?...}}"
    assert {"POSTGRES_PASSWORD", "ACCOUNTS_DB_PASSWORD", "NOTIFIER_DB_PASSWORD", "PORTAL_DB_PASSWORD",
            "STATS_DB_PASSWORD", "RABBITMQ_PASSWORD", "TS_PUBLIC_URL"} <= required


def test_only_the_accounts_containers_hold_the_credential_key():
    """Temporary passwords are derived from it (docs/credentials.md): the notifier, portal and
    stats never get it."""
    env = _strong_environment()
    holders = {name for name, service in _app_containers().items() if "TS_CREDENTIAL_KEY" in _environment(service, env)}
    accounts = {name for name, service in _app_containers().items()
                if "TS_ACCOUNTS_DATABASE_URL" in _environment(service, env)}
    assert holders == accounts and "accounts" in holders and "notifier-worker" not in holders


def test_compose_refuses_to_start_without_a_secret_key(tmp_path):
    env = _strong_environment()
    del env["TS_SECRET_KEY"]
    with pytest.raises(MissingVariable, match="TS_SECRET_KEY"):
        for service in _app_containers().values():
            _environment(service, env)
    result = _docker_compose(["config"], env, tmp_path)
    assert result.returncode != 0
    assert "TS_SECRET_KEY" in result.stderr


def test_each_container_environment_starts_its_service_in_production_mode():
    services = set(discover_services())
    env = _strong_environment()
    checked = set()
    for name, service in _app_containers().items():
        environment = _environment(service, env)
        settings = Settings.from_env(environment)
        assert settings.mode == "production" and settings.broker_url.startswith("amqp://"), name
        command = _command(service)
        own = sorted(services) if command[:3] == ["tsctl", "db", "upgrade"] else [
            command[2] if command[0] == "tsctl" else command[-1].split(".")[0].removeprefix("ts_")]
        for service_name in own:
            url = settings.database_url(service_name)
            assert url == (f"postgresql+psycopg://{service_name}:{env[service_name.upper() + '_DB_PASSWORD']}"
                           f"@postgres:5432/{service_name}"), name
            checked.add(service_name)
        others = set(settings.database_urls) - set(own)
        assert not others, f"{name} can reach databases it does not own: {others}"
    assert checked == services


def test_the_placeholders_of_env_example_are_refused_by_production_mode():
    env = _env_example()
    secrets = {name: value for name, value in env.items()
               if name in ("TS_SECRET_KEY", "TS_INTERNAL_TOKEN", "TS_EVENT_KEY", "TS_CREDENTIAL_KEY")
               or name.endswith("PASSWORD")}
    assert set(secrets.values()) == {"change-me"}, "every secret of env.example is the change-me placeholder"
    with pytest.raises(ConfigError, match="TS_SECRET_KEY is missing or a placeholder"):
        Settings.from_env(_environment(_compose()["services"]["accounts"], env))
    # Strong TS_* secrets are not enough: the change-me passwords of the URLs compose builds are refused too.
    strong = {**env, **{name: value for name, value in _strong_environment().items() if name.startswith("TS_")}}
    for name in _app_containers():
        environment = _environment(_compose()["services"][name], strong)
        urls = [
            variable for variable in environment if variable.endswith("_URL") and "change-me@" in environment[variable]
        ]
        assert urls, name
        with pytest.raises(ConfigError) as refused:
            Settings.from_env(environment)
        assert all(f"{variable} has a placeholder password" in str(refused.value) for variable in urls), name


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_env_example_lists_every_variable_the_compose_file_reads():
    read, _ = _compose_variables()
    assert set(_env_example()) == read


def test_every_gunicorn_container_uses_the_shared_gunicorn_config():
    for name, command in _containers("gunicorn").items():
        assert command[1:3] == ["-c", "deploy/gunicorn.conf.py"], name
        assert re.fullmatch(rf"ts_{name}\.wsgi:app", command[-1]), name


@pytest.mark.parametrize("container", sorted(_containers("gunicorn")))
def test_every_gunicorn_command_names_a_wsgi_app_that_serves_its_service(container, tmp_path):
    """Imported in a subprocess: `ts_x.wsgi` builds its app from the environment at import time
    (embedded mode here, with its databases in a temporary folder)."""
    target = _containers("gunicorn")[container][-1]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("TS_") and key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(TS_DATA_DIR=str(tmp_path), TS_LOG_FORMAT="text", TS_LOG_LEVEL="WARNING")
    script = (
        "import importlib, sys\n"
        "from werkzeug.test import Client\n"
        "module, attribute = sys.argv[1].split(':')\n"
        "app = getattr(importlib.import_module(module), attribute)\n"
        "response = Client(app).get('/healthz')\n"
        "assert response.status_code == 200, response.status\n"
        "print(response.get_json()['service'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script, target], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == container


def test_every_tsctl_command_in_compose_is_a_real_command_for_a_known_service():
    commands = _containers("tsctl")
    assert commands
    for name, command in commands.items():
        context = click.Context(cli, info_name="tsctl")
        current, args = cli, command[1:]
        while isinstance(current, click.Group):
            assert args, f"{name}: {' '.join(command)} stops at a command group"
            subcommand = current.get_command(context, args[0])
            assert subcommand is not None, f"{name}: tsctl has no command {args[0]!r}"
            context = click.Context(subcommand, info_name=args[0], parent=context)
            current, args = subcommand, args[1:]
        current.make_context(context.info_name, list(args), parent=context.parent)  # arguments parse
        for service in args:
            assert service in SPECS, f"{name}: unknown service {service!r}"
            if command[1] == "worker":
                assert SPECS[service].subscription is not None, f"{name}: {service} consumes no event"


def test_every_service_that_consumes_events_has_a_worker_and_every_service_a_relay():
    assert set(_tsctl("worker").values()) == CONSUMERS
    assert sorted(_tsctl("relay").values()) == sorted(SPECS)
    # ...and every service with periodic jobs (account expiry) has exactly one jobs container.
    assert sorted(_tsctl("jobs").values()) == sorted(name for name, spec in SPECS.items() if spec.jobs)
    for name, service in _tsctl("worker").items():
        assert name == f"{service}-worker"
    for name, service in _tsctl("relay").items():
        assert name == f"{service}-relay"


def test_workers_and_relays_can_be_scaled_and_expose_their_metrics():
    services = _compose()["services"]
    for name in [*_tsctl("worker"), *_tsctl("relay")]:
        service = services[name]
        assert "container_name" not in service and "ports" not in service, f"{name} could not be scaled"
        assert _environment(service, _strong_environment()).get("TS_METRICS_PORT") == "9100", name


def test_web_containers_keep_their_metric_files_in_a_tmpfs_and_have_a_healthcheck():
    services = _compose()["services"]
    for name in _containers("gunicorn"):
        service = services[name]
        directory = _environment(service, _strong_environment())["PROMETHEUS_MULTIPROC_DIR"]
        assert directory in service.get("tmpfs", []), name
        assert "ports" not in service and "container_name" not in service, f"{name}: reached through the gateway"
        assert "http://localhost:8000/healthz" in " ".join(service["healthcheck"]["test"]), name


def test_every_process_waits_for_the_migrations_which_wait_for_postgres():
    services = _compose()["services"]
    migrate = services["migrate"]
    assert _command(migrate) == ["tsctl", "db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"
    for name, service in _app_containers().items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["rabbitmq"]
    gateway_waits_for = services["gateway"]["depends_on"]
    assert {name for name in gateway_waits_for if gateway_waits_for[name]["condition"] == "service_healthy"} \
        == set(_containers("gunicorn"))


# --- PostgreSQL ------------------------------------------------------------------------------

def test_postgres_gets_one_database_per_service_from_the_init_script():
    script = INIT_DATABASES.read_text()
    loop = re.search(r"^for service in ([\w ]+); do$", script, re.MULTILINE)
    assert loop and sorted(loop[1].split()) == sorted(SPECS)
    postgres = _compose()["services"]["postgres"]
    assert any(volume.startswith("./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/")
               for volume in postgres["volumes"])
    assert {f"{name.upper()}_DB_PASSWORD" for name in SPECS} <= set(postgres["environment"])
    assert os.access(INIT_DATABASES, os.X_OK)


def _postgres_programs() -> Path:
    initdb = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1:]), None)
    if initdb is None:
        pytest.skip("PostgreSQL's initdb is not installed: the init script was only read")
    return Path(initdb).parent


def test_the_init_script_creates_each_database_owned_by_its_own_role():
    """Run on a throwaway cluster (as the postgres image would), never on the machine's server."""
    bin_dir = _postgres_programs()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run a throwaway cluster")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to run a throwaway cluster as postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    workdir = Path(tempfile.mkdtemp(prefix="ts-initdb-"))
    # The postgres user may not be able to read the clone (a mode-700 folder): it runs a copy of the
    # script from its own folder, and from there.
    init_databases = workdir / INIT_DATABASES.name
    shutil.copyfile(INIT_DATABASES, init_databases)
    if as_postgres:
        shutil.chown(workdir, user="postgres")
        shutil.chown(init_databases, user="postgres")

    def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*as_postgres, *args], env=env, capture_output=True, text=True, check=check,
                              timeout=120, cwd=workdir)

    data, port = workdir / "data", "55439"
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log"), "-w",
            "-o", f"-k {workdir} -p {port} -c listen_addresses=''", "start")
        env = {"PATH": os.environ["PATH"], "PGHOST": str(workdir), "PGPORT": port, "POSTGRES_USER": "postgres",
               **{f"{name.upper()}_DB_PASSWORD": f"{name}'pass\"word;--" for name in SPECS}}
        run("bash", str(init_databases), env=env)

        def query(sql: str) -> str:
            return run("psql", "-h", str(workdir), "-p", port, "-U", "postgres", "-d", "postgres",
                       "-Atc", sql).stdout.strip()

        owners = query("SELECT string_agg(datname || '=' || pg_get_userbyid(datdba), ',' ORDER BY datname) "
                       "FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')")
        assert owners == ",".join(f"{name}={name}" for name in sorted(SPECS))
        assert query("SELECT count(*) FROM pg_authid WHERE rolcanlogin AND rolpassword IS NOT NULL "
                     "AND rolname IN (" + ",".join(f"'{name}'" for name in SPECS) + ")") == str(len(SPECS))
        first, second = sorted(SPECS)[:2]
        assert query(f"SELECT has_database_privilege('{second}', '{first}', 'CONNECT')") == "f"

        env.pop(f"{first.upper()}_DB_PASSWORD")
        again = run("bash", str(init_databases), env=env, check=False)
        assert again.returncode != 0 and f"{first.upper()}_DB_PASSWORD is not set" in again.stderr
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(workdir, ignore_errors=True)


# --- The gateway ------------------------------------------------------------------------------

def _nginx_conf() -> str:
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def _upstream_hosts(conf: str) -> dict[str, str]:
    upstreams = {}
    for name, body in re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", conf):
        servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", body, re.MULTILINE)
        assert len(servers) == 1 and servers[0][1] == "8000", f"upstream {name}: {servers}"
        upstreams[name] = servers[0][0]
    return upstreams


AUTH_LOCATION = "/_staff_session"  # nginx's internal location for the staff session check
AUTH_DIRECTIVES = ["auth_request /_staff_session;",
                   "auth_request_set $ts_staff_identity $upstream_http_x_ts_staff_identity;"]


def _location_bodies(conf: str) -> dict[tuple[str, str], str]:
    bodies = {}
    for modifier, path, body in re.findall(r"location\s+(=|\^~)?\s*(\S+)\s*\{([^}]*)\}", conf):
        assert (modifier, path) not in bodies, f"location {modifier} {path} defined twice"
        bodies[(modifier, path)] = body
    return bodies


def _directives(body: str) -> list[str]:
    return [" ".join(line.split()) for line in body.split(";") if line.strip()]


def _locations(conf: str) -> dict[tuple[str, str], str]:
    """(modifier, path) -> the service it proxies to, or "404" (the internal auth location aside)."""
    upstreams = _upstream_hosts(conf)
    locations = {}
    for (modifier, path), body in _location_bodies(conf).items():
        if path == AUTH_LOCATION:
            continue
        proxied = re.findall(r"proxy_pass\s+([^;]+);", body)
        if proxied:
            target = re.fullmatch(r"http://(\w+)", proxied[0].strip())
            assert target and len(proxied) == 1, f"location {path}: proxy_pass {proxied} must be http://<upstream>"
            locations[(modifier, path)] = upstreams[target[1]]
        else:
            assert re.fullmatch(r"\s*return\s+404;\s*", body), f"location {path} neither proxies nor refuses"
            locations[(modifier, path)] = "404"
    return locations


def test_the_gateway_routes_exactly_like_the_embedded_gateway():
    expected = {}
    for prefix in BLOCKED_PREFIXES:
        expected[("=", prefix)] = expected[("^~", prefix + "/")] = "404"
    for prefix, service in ROUTES:
        if prefix == "/":
            expected[("", "/")] = service
        else:
            expected[("=", prefix)] = expected[("^~", prefix + "/")] = service
    assert _locations(_nginx_conf()) == expected


def test_the_gateway_asks_accounts_for_the_staff_session_of_notifier_and_stats_pages_only():
    conf = _nginx_conf()
    bodies = _location_bodies(conf)
    for location, service in _locations(conf).items():
        checked = [d for d in _directives(bodies[location]) if d.startswith("auth_request")]
        expected = [d.rstrip(";") for d in AUTH_DIRECTIVES] if service in STAFF_CHECKED_SERVICES else []
        assert checked == expected, location
    auth = _directives(bodies[("=", AUTH_LOCATION)])
    assert "internal" in auth and "proxy_method GET" in auth and "proxy_pass_request_body off" in auth
    assert f"proxy_pass http://accounts{STAFF_SESSION_CHECK_PATH}" in auth
    assert 'proxy_set_header Content-Length ""' in auth
    # A client's own identity header never reaches a service, nor the check.
    assert re.search(rf"^\s*proxy_set_header\s+{STAFF_IDENTITY_HEADER}\s+\$ts_staff_identity;", conf, re.MULTILINE)
    assert f'proxy_set_header {STAFF_IDENTITY_HEADER} ""' in auth


def test_the_gateway_upstreams_are_the_web_containers():
    upstreams = _upstream_hosts(_nginx_conf())
    assert set(upstreams) == set(upstreams.values()) == set(_containers("gunicorn"))
    gateway = _compose()["services"]["gateway"]
    assert "./deploy/gateway/nginx.conf:/etc/nginx/nginx.conf:ro" in gateway["volumes"]
    assert gateway["ports"] == ["${TS_HTTP_PORT:-8080}:80"]
    assert re.search(r"^\s*listen\s+80\b", _nginx_conf(), re.MULTILINE)


def test_the_gateway_forwards_the_headers_proxyfix_trusts_and_hides_its_version():
    conf = _nginx_conf()
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"^\s*proxy_set_header\s+{header}\s+\S+;", conf, re.MULTILINE), header
    # proxy_set_header inside a location silently drops the ones above: only the internal auth
    # location has its own, and it repeats each of them.
    bodies = _location_bodies(conf)
    auth = bodies.pop(("=", AUTH_LOCATION))
    assert all("proxy_set_header" not in body for body in bodies.values())
    inherited = re.findall(r"^\s*proxy_set_header\s+([\w-]+)\s", conf.split("server {")[0], re.MULTILINE)
    assert set(inherited) <= set(re.findall(r"proxy_set_header\s+([\w-]+)\s", auth))
    for directive in ("server_tokens off;", "client_max_body_size 64m;", "gzip on;"):
        assert re.search(r"^\s*" + re.escape(directive), conf, re.MULTILINE), directive


def test_the_gateway_tells_browsers_to_come_back_over_https_only():
    conf = _nginx_conf()
    # At the http level, for every answer (`always`: errors too)...
    assert re.search(r"^ {4}add_header\s+Strict-Transport-Security\s+\$ts_hsts\s+always;", conf, re.MULTILINE)
    # ...which a location's own add_header would silently drop.
    assert all("add_header" not in body for body in re.findall(r"location[^{]*\{([^}]*)\}", conf))
    # HTTPS answers only (as the TLS terminator reports them), for a year at least.
    hsts = dict(re.findall(r'^\s*(\S+)\s+"([^"]*)";', re.search(r"map\s+\$ts_forwarded_proto\s+\$ts_hsts\s*\{([^}]*)\}",
                                                                  conf)[1], re.MULTILINE))
    assert hsts["default"] == "" and set(hsts) == {"https", "default"}
    assert int(re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts["https"])[1]) >= 365 * 24 * 3600


class _EchoHandler(BaseHTTPRequestHandler):
    """A stand-in service: tells who it is, the path it received and the forwarded headers. As
    accounts, it answers the staff session check with an identity made of the cookie it got."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == STAFF_SESSION_CHECK_PATH:
            self.server.checks.append((self.command, self.headers.get("Content-Length")))
            self.send_response(200)
            if self.headers.get("Cookie"):
                self.send_header(STAFF_IDENTITY_HEADER, "sealed:" + self.headers["Cookie"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"service": self.server.service, "path": self.path, "method": self.command,
                           "headers": dict(self.headers.items())}).encode()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def _gateway_paths() -> list[str]:
    paths = ["/", "/healthz", "/readyz", "/static/x.css", "/adminx", "/apix", "/api/v1/accounts?next=/internal/x"]
    for prefix in [prefix for prefix, _ in ROUTES if prefix != "/"] + list(BLOCKED_PREFIXES):
        paths += [prefix, prefix + "/", prefix + "/a/b", prefix + "X", prefix + "x/y", prefix + "?q=1"]
    return paths


def test_nginx_sends_each_path_to_the_service_the_embedded_gateway_chooses(tmp_path):
    nginx_executable()
    backends = {}
    for service in sorted(set(_upstream_hosts(_nginx_conf()).values())):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
        server.service, server.checks = service, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        backends[service] = server
    try:
        with nginx_gateway(tmp_path, {name: server.server_address[1] for name, server in backends.items()}) as port:
            _check_routes(port, backends)
    finally:
        for server in backends.values():
            server.shutdown()
            server.server_close()


def _check_routes(port: int, backends: dict) -> None:
    def get(path: str, method: str = "GET", headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict | None, http.client.HTTPResponse]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(method, path, body=body, headers={"Host": f"teleservices.test:{port}", **(headers or {})})
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        is_json = response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(answer) if is_json else None, response

    for path in _gateway_paths():
        expected = route_for(path.split("?")[0])
        status, echo, response = get(path)
        assert response.getheader("Server") == "nginx", "server_tokens off"
        if expected is None:
            assert status == 404 and echo is None, path
            continue
        assert status == 200 and echo["service"] == expected, (path, echo)
        assert echo["path"] == path, "the path is passed on unchanged"
        headers = {key.lower(): value for key, value in echo["headers"].items()}
        assert headers["x-forwarded-for"] == "127.0.0.1"
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-host"] == f"teleservices.test:{port}"
        assert response.getheader("Strict-Transport-Security") is None  # plain HTTP: no HSTS
    # Behind the TLS terminator: HSTS on every answer, refusals included.
    for path in ("/", "/admin/login", "/api/v1/openapi.json", "/internal/authenticate"):
        response = get(path, headers={"X-Forwarded-Proto": "https"})[2]
        assert response.getheader("Strict-Transport-Security") == "max-age=63072000; includeSubDomains", path
    # Staff pages of notifier and stats get accounts' answer for their cookie; a client's own
    # identity header never goes through, to any service.
    forged = {STAFF_IDENTITY_HEADER: "forged", "Cookie": "ts_staff=abc"}
    for path in _gateway_paths():
        service = route_for(path.split("?")[0])
        if service is None:
            continue
        status, echo, _ = get(path, headers=forged)
        headers = {key.lower(): value for key, value in echo["headers"].items()}
        forwarded = headers.get(STAFF_IDENTITY_HEADER.lower())
        assert forwarded == ("sealed:ts_staff=abc" if service in STAFF_CHECKED_SERVICES else None), (path, forwarded)
    anonymous = get("/admin/stats/")[1]["headers"]
    assert STAFF_IDENTITY_HEADER.lower() not in {key.lower() for key in anonymous}, "no cookie, no identity"
    # The check is a GET without the body, whatever the page's request.
    backends["accounts"].checks.clear()
    status, echo, _ = get("/admin/letters/x", method="POST", body=b"a=1", headers={"Cookie": "ts_staff=abc"})
    assert status == 200 and echo["method"] == "POST"
    assert backends["accounts"].checks == [("GET", None)]
    # Documented difference: nginx matches the normalised path, so dot segments cannot reach
    # a blocked prefix (the embedded gateway hands these to a service, which has no such route).
    assert get("/api/../internal/authenticate")[0] == 404
    assert get("/admin/%2e%2e/metrics")[0] == 404


# --- The image and gunicorn -------------------------------------------------------------------

def test_the_dockerfile_installs_the_project_editable_with_the_constraints():
    lines = re.sub(r"\\\n", " ", DOCKERFILE.read_text()).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    installs = [line for line in instructions if line.startswith("RUN") and "pip install" in line]
    assert any(re.search(r"pip install -c constraints\.txt -e \.(\s|$)", line) for line in installs)
    assert all("-c constraints.txt" in line for line in installs), "every pip install is constrained"
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert instructions[-1].startswith("CMD")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", "data", ".git"} <= set(ignored), "no local environment or secret in the image"


def test_the_migrations_are_found_next_to_the_packages_as_the_editable_install_requires():
    for name, spec in SPECS.items():
        assert spec.migrations_dir == ROOT / "services" / name / "migrations", name
        assert spec.migrations_dir.is_dir(), name


def test_the_gunicorn_config_reads_its_workers_from_the_environment(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    defaults = runpy.run_path(str(GUNICORN_CONF))
    assert defaults["bind"] == "0.0.0.0:8000" and defaults["workers"] == 2
    assert defaults["accesslog"] == "-"
    assert defaults["logconfig_dict"]["handlers"]["stdout"]["stream"] == "ext://sys.stdout"
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    assert runpy.run_path(str(GUNICORN_CONF))["workers"] == 5


def test_a_dead_gunicorn_worker_is_marked_dead_for_the_multiprocess_metrics(monkeypatch, tmp_path):
    from prometheus_client import multiprocess

    dead = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", lambda pid, path=None: dead.append(pid))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    runpy.run_path(str(GUNICORN_CONF))["child_exit"](SimpleNamespace(), SimpleNamespace(pid=4242))
    assert dead == [4242]


def test_gunicorn_serves_a_service_with_the_deploy_config_and_metrics_of_all_workers(tmp_path):
    command = _containers("gunicorn")["portal"]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    (metrics_dir).mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's file
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TS_", "GUNICORN_"))}
    env.update(TS_DATA_DIR=str(tmp_path / "data"), TS_LOG_LEVEL="WARNING", GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="2", GUNICORN_CONTROL_SOCKET=str(tmp_path / "gunicorn.ctl"),
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    process = subprocess.Popen([str(gunicorn), *command[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gunicorn stopped: {process.stderr.read()}"
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz?token=secret")
                response = connection.getresponse()
                if response.status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 60 s"
            time.sleep(0.2)
        for _ in range(4):  # several requests, likely spread over both workers
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/metrics")
        metrics = connection.getresponse().read().decode()
        served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("ts_http_requests_total{") and 'endpoint="/healthz"' in line)
        assert served >= 5, metrics
        assert not (metrics_dir / "counter_999999.db").exists()
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    access = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert any(entry["logger"] == "gunicorn.access" and "GET /healthz" in entry["message"] for entry in access), stdout
    assert "secret" not in stdout, "the query string (one-time tokens) is not logged"
    assert any(json.loads(line).get("message", "").startswith("Starting gunicorn")
               for line in stderr.splitlines() if line.startswith("{"))
