"""docker-compose.yml run natively: every process of the compose file started on this machine from
the compose file's own commands and environment, behind the real nginx with deploy/gateway/nginx.conf.

    make topology                       # or: .venv/bin/python deploy/topology.py
    .venv/bin/python deploy/topology.py --scale notifier-worker=2

What a container engine would provide is provided here, and only that:
- the compose variables (deploy/env.example): fresh strong secrets and passwords for this run;
- the infrastructure: a private PostgreSQL cluster (this machine's PostgreSQL binaries, `initdb` in a
  temporary folder, on a free port, passwords required over TCP) whose databases and roles are made
  by deploy/postgres/init-databases.sh, as the postgres image does; a fresh virtual host and user on
  this machine's RabbitMQ (rabbitmqctl); an SMTP server that keeps every email (aiosmtpd);
- the network: each compose service name (postgres, rabbitmq, accounts, ...) is an address on
  127.0.0.1, each container port (8000 of a web service, 9100 of a worker) a free port of its own;
- the mounts: each tmpfs and named volume is a folder of this run.
The commands and the application environment are read from docker-compose.yml as they are; the
test tests/test_topology.py drives a whole journey through the gateway.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
RABBITMQ_HOST = os.environ.get("TS_TOPOLOGY_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("TS_TOPOLOGY_RABBITMQ_PORT", "5672"))
WEB_PORT, BACKGROUND_METRICS_PORT = 8000, 9100

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class TopologyError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- The compose file -----------------------------------------------------------------------

def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value, env: dict[str, str]):
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `${VAR:?message}`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise TopologyError(f"{name}: {arg}")
        if op == ":-" and not current:
            return arg
        if op == "-" and current is None:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def required_variables() -> set[str]:
    return {match["name"] for match in _VARIABLE.finditer(COMPOSE_FILE.read_text()) if match["op"] == ":?"}


def command_of(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def start_order(services: dict) -> list[str]:
    """The project's containers in compose's order of dependencies (depends_on), the one-shot
    `migrate` first, then the web services, then the workers, relays and jobs."""
    app = [name for name, service in services.items() if "build" in service]
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in ordered or name not in app:
            return
        if name in path:
            raise TopologyError(f"depends_on cycle: {' -> '.join(path + (name,))}")
        for dependency in services[name].get("depends_on") or {}:
            visit(dependency, path + (name,))
        ordered.append(name)

    for name in sorted(app, key=lambda n: (command_of(services[n])[0] != "gunicorn", n)):
        visit(name)
    return ordered


# --- The variables of a run --------------------------------------------------------------------

def run_variables(public_url: str, smtp_port: int, rabbitmq_user: str) -> dict[str, str]:
    """A value for every variable the compose file requires, as an operator fills deploy/env.example."""
    env: dict[str, str] = {}
    for name in sorted(required_variables()):
        if name.endswith("_KEY"):  # Fernet-shaped: valid for the event key and as any other secret
            env[name] = base64.urlsafe_b64encode(os.urandom(32)).decode()
        elif name.endswith(("_PASSWORD", "_TOKEN")):
            env[name] = secrets.token_hex(24)
        else:
            env[name] = secrets.token_urlsafe(40)
    env.update(TS_PUBLIC_URL=public_url, TS_SMTP_HOST="127.0.0.1", TS_SMTP_PORT=str(smtp_port),
               TS_SMTP_STARTTLS="0", TS_MAIL_FROM="Scolarité services <ne-pas-repondre@teleservices.test>",
               RABBITMQ_USER=rabbitmq_user, TS_LOG_LEVEL="WARNING")
    return env


# --- Processes ----------------------------------------------------------------------------------

@dataclass
class Process:
    name: str  # the compose service (`notifier-worker`), with `#2` for a scaled replica
    service: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None  # the web port (8000) or the metrics port (9100) of this replica
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        executable = shutil.which(self.command[0], path=str(Path(sys.executable).parent)) or self.command[0]
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen([executable, *self.command[1:]], cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _run_as_postgres() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise TopologyError("running as root without runuser: cannot start PostgreSQL as the postgres user")
    return [runuser, "-u", "postgres", "--"]


def postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    if not candidates:
        raise TopologyError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    return candidates[0].parent


def rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        raise TopologyError("rabbitmqctl is not on PATH")
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=60).stdout


@dataclass
class Topology:
    """The whole compose file on this machine; `start()` then `stop()` (also on failure)."""

    folder: Path
    scale: dict[str, int] = field(default_factory=dict)
    gateway_port: int = 0
    processes: list[Process] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    mail_folder: Path | None = None
    _postgres: Path | None = None
    _postgres_root: Path | None = None
    _postgres_port: int = 0
    _vhost: str | None = None
    _rabbitmq_user: str | None = None
    _smtp = None
    _nginx: subprocess.Popen | None = None
    _nginx_prefix: Path | None = None

    # -- lifecycle

    def start(self) -> Topology:
        try:
            self.gateway_port = self.gateway_port or free_port()
            smtp_port = self._start_smtp()
            self._rabbitmq_user = f"ts_topology_{uuid.uuid4().hex[:10]}"
            self.env = run_variables(f"http://127.0.0.1:{self.gateway_port}", smtp_port, self._rabbitmq_user)
            self._start_postgres()
            self._start_rabbitmq()
            self._start_processes()
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes:  # all at once, as `docker compose down`
            if process.alive():
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.stop()
            except Exception:  # keep stopping the others
                pass
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.terminate()
            try:
                self._nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._nginx.kill()
        if self._nginx_prefix is not None:
            if (self._nginx_prefix / "error.log").exists() and (self.folder / "logs").is_dir():
                shutil.copy2(self._nginx_prefix / "error.log", self.folder / "logs" / "gateway-error.log")
            shutil.rmtree(self._nginx_prefix, ignore_errors=True)
            self._nginx_prefix = None
        self._stop_postgres()
        if self._vhost:
            for args in (("delete_vhost", self._vhost), ("delete_user", self._rabbitmq_user or "")):
                try:
                    rabbitmqctl(*args)
                except (subprocess.SubprocessError, TopologyError):
                    pass
            self._vhost = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- infrastructure

    def _start_smtp(self) -> int:
        from ts_shared.runtime.mail_sink import MailSink

        self.mail_folder = self.folder / "mail"
        sink = MailSink(self.mail_folder)
        sink.start()
        self._smtp = sink
        return sink.port

    def _start_postgres(self) -> None:
        """A private cluster, set up as the postgres image sets one up: a superuser with a password,
        password authentication over TCP, then the init scripts over the local socket."""
        services = compose()["services"]
        postgres_env = {key: str(value) for key, value in
                        interpolate(services["postgres"].get("environment") or {}, self.env).items()}
        # Its own folder directly under the temporary directory: the postgres user must reach it.
        root = Path(tempfile.mkdtemp(prefix="ts-topology-postgres-"))
        self._postgres_root = root
        data, socket_dir = root / "data", root / "run"
        for directory in (data, socket_dir):
            directory.mkdir()
        password_file = root / "superuser-password"
        password_file.write_text(postgres_env["POSTGRES_PASSWORD"] + "\n")
        if os.geteuid() == 0:
            for path in (root, data, socket_dir, password_file):
                shutil.chown(path, "postgres")
        as_postgres, binaries = _run_as_postgres(), postgres_bin()
        self._run([*as_postgres, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile",
                   str(password_file), "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                   "--locale=C.UTF-8"], "initdb")
        self._postgres_port = free_port()
        self._postgres = data
        self.start_database()
        # deploy/postgres/init-databases.sh, as /docker-entrypoint-initdb.d runs it (over the socket).
        init_env = {"PATH": f"{binaries}:{os.environ.get('PATH', '')}", "PGHOST": str(socket_dir),
                    "PGPORT": str(self._postgres_port), "POSTGRES_USER": "postgres", "HOME": str(root),
                    **postgres_env}
        self._run([*as_postgres, "bash", str(INIT_DATABASES)], "init-databases.sh", env=init_env)
        self.addresses["postgres:5432"] = f"127.0.0.1:{self._postgres_port}"

    def _stop_postgres(self) -> None:
        if self._postgres is None:
            return
        try:
            subprocess.run([*_run_as_postgres(), str(postgres_bin() / "pg_ctl"), "-D", str(self._postgres), "-m",
                            "immediate", "-w", "-t", "30", "stop"], capture_output=True, timeout=60)
        except (subprocess.SubprocessError, TopologyError):
            pass
        self._postgres = None
        if self._postgres_root is not None:
            shutil.rmtree(self._postgres_root, ignore_errors=True)
            self._postgres_root = None

    def stop_database(self) -> None:
        """PostgreSQL goes away (as a failover or a crash): `pg_ctl stop -m immediate`."""
        assert self._postgres is not None
        self._run([*_run_as_postgres(), str(postgres_bin() / "pg_ctl"), "-D", str(self._postgres), "-m",
                   "immediate", "-w", "-t", "60", "stop"], "pg_ctl stop")

    def start_database(self) -> None:
        assert self._postgres is not None and self._postgres_root is not None
        # fsync off is safe here (the outage stops the server, never the machine); synchronous_commit stays on:
        # with it off, a commit acknowledged just before `stop -m immediate` is lost (a staff member's sign-in
        # vanished that way), which production never does.
        options = (f"-p {self._postgres_port} -k {self._postgres_root / 'run'} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=300")
        self._run([*_run_as_postgres(), str(postgres_bin() / "pg_ctl"), "-D", str(self._postgres), "-l",
                   str(self._postgres_root / "postgres.log"), "-o", options, "-w", "-t", "60", "start"],
                  "pg_ctl start")

    def _start_rabbitmq(self) -> None:
        """A fresh virtual host and user on this machine's broker: the compose file's
        `rabbitmq:5672//` (the default vhost) becomes that vhost, so that nothing else is touched."""
        self._vhost = f"ts_topology_{uuid.uuid4().hex[:10]}"
        rabbitmqctl("add_vhost", self._vhost)
        rabbitmqctl("add_user", self.env["RABBITMQ_USER"], self.env["RABBITMQ_PASSWORD"])
        rabbitmqctl("set_permissions", "-p", self._vhost, self.env["RABBITMQ_USER"], ".*", ".*", ".*")
        self.addresses["rabbitmq:5672//"] = f"{RABBITMQ_HOST}:{RABBITMQ_PORT}/{self._vhost}"

    def _run(self, command: list[str], what: str, env: dict[str, str] | None = None) -> None:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        if result.returncode != 0:
            raise TopologyError(f"{what} failed: {result.stdout}{result.stderr}")

    # -- the project's containers

    def container_environment(self, name: str, service: dict, replica: int) -> tuple[dict[str, str], int | None]:
        """The compose environment of `name`, its addresses and mounts made local."""
        environment = {key: str(value) for key, value in interpolate(service.get("environment") or {},
                                                                     self.env).items()}
        mounts = {path: self.folder / "tmpfs" / f"{name}-{replica}" / path.strip("/").replace("/", "-")
                  for path in service.get("tmpfs") or []}
        mounts.update({volume.split(":")[1]: self.folder / "volumes" / volume.split(":")[0]
                       for volume in service.get("volumes") or []})
        for folder in mounts.values():
            folder.mkdir(parents=True, exist_ok=True)
        for key, value in environment.items():
            for address, local in self.addresses.items():
                value = value.replace(f"@{address}", f"@{local}").replace(f"//{address}", f"//{local}")
            for path, folder in mounts.items():
                if value == path or value.startswith(path + "/"):
                    value = str(folder) + value[len(path):]
            environment[key] = value
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("TS_", "GUNICORN_", "PROMETHEUS_")) and not key.endswith("_PASSWORD")}
        env.update(environment)
        port = None
        command = command_of(service)
        if command[0] == "gunicorn":
            port = int(self.addresses[f"{name}:{WEB_PORT}"].rsplit(":", 1)[1])
            env["GUNICORN_BIND"] = f"127.0.0.1:{port}"  # the container's :8000
            env["GUNICORN_CONTROL_SOCKET"] = str(mounts.get("/tmp", self.folder) / "gunicorn.ctl")
        elif env.get("TS_METRICS_PORT") == str(BACKGROUND_METRICS_PORT):
            port = free_port()
            env["TS_METRICS_PORT"] = str(port)  # the container's :9100
        if "/tmp" in mounts:
            env["TMPDIR"] = str(mounts["/tmp"])
        return env, port

    def _start_processes(self) -> None:
        services = compose()["services"]
        (self.folder / "logs").mkdir(exist_ok=True)
        order = start_order(services)
        # The web services' addresses first: the others reach accounts over HTTP.
        for name in order:
            if command_of(services[name])[0] == "gunicorn":
                self.addresses[f"{name}:{WEB_PORT}"] = f"127.0.0.1:{free_port()}"
        for name in order:
            service = services[name]
            if name == "migrate":
                env, _ = self.container_environment(name, service, 1)
                process = Process(name, name, command_of(service), env, self.folder / "logs" / f"{name}.log")
                process.start()
                assert process.popen is not None
                if process.popen.wait(timeout=300) != 0:
                    raise TopologyError(f"migrate (tsctl db upgrade) failed:\n{process.tail()}")
                continue
            for replica in range(1, self.scale.get(name, 1) + 1):
                label = name if replica == 1 else f"{name}#{replica}"
                env, port = self.container_environment(name, service, replica)
                process = Process(label, name, command_of(service), env,
                                  self.folder / "logs" / f"{label.replace('#', '-')}.log", port)
                process.start()
                self.processes.append(process)
        for process in self.processes:
            self.wait_started(process)

    def wait_started(self, process: Process, timeout: float = 120) -> None:
        """Up as compose's healthcheck sees it: /healthz of a web service, /metrics of the others."""
        import urllib.error
        import urllib.request

        path = "/healthz" if process.command[0] == "gunicorn" else "/metrics"
        deadline = time.monotonic() + timeout
        while True:
            if not process.alive():
                raise TopologyError(f"{process.name} stopped at start:\n{process.tail()}")
            if process.port is None:
                return
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{process.port}{path}", timeout=3) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise TopologyError(f"{process.name} did not answer {path} within {timeout:.0f} s:\n{process.tail()}")
            time.sleep(0.2)

    def restart(self, process: Process) -> None:
        """As the orchestrator does after a crash: the same command and environment again."""
        process.stop(timeout=5)
        process.start()
        self.wait_started(process)

    # -- the gateway

    def _start_gateway(self) -> None:
        nginx = os.environ.get("TS_TEST_NGINX") or shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            raise TopologyError("nginx is not installed (apt-get install nginx, or TS_TEST_NGINX=/path/to/nginx)")
        # nginx's workers drop root for `nobody`: their temporary files need a folder they can reach.
        prefix = Path(tempfile.mkdtemp(prefix="ts-topology-nginx-"))
        prefix.chmod(0o755)
        self._nginx_prefix = prefix
        conf = NGINX_CONF.read_text()
        rewrites = [
            (r"^user\s+\S+;", ""),
            (r"^pid\s+\S+;", f"pid {prefix}/nginx.pid;"),
            (r"^error_log\s+\S+", f"error_log {prefix}/error.log"),
            (r"access_log\s+/dev/stdout", f"access_log {prefix}/access.log"),
            (r"include\s+/etc/nginx/mime\.types;", f"include {prefix}/mime.types;"),
            (r"listen\s+80\b", f"listen 127.0.0.1:{self.gateway_port}"),
            (r"^http \{", "http {\n" + "".join(f"    {kind}_temp_path {prefix}/{kind};\n"
                                                 for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))),
        ]
        rewrites += [(rf"server\s+{re.escape(address)};", f"server {local};")
                     for address, local in self.addresses.items() if address.endswith(f":{WEB_PORT}")]
        for pattern, replacement in rewrites:
            conf, count = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
            if not count:
                raise TopologyError(f"nginx.conf no longer contains {pattern!r}: update deploy/topology.py")
        mime = Path("/etc/nginx/mime.types")
        (prefix / "mime.types").write_text(mime.read_text() if mime.exists() else
                                           "types { text/html html; text/css css; application/javascript js; }\n")
        (prefix / "nginx.conf").write_text(conf)
        self._nginx = subprocess.Popen([nginx, "-e", str(prefix / "error.log"), "-p", str(prefix), "-c",
                                        str(prefix / "nginx.conf"), "-g", "daemon off;"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not listening(self.gateway_port):
            if self._nginx.poll() is not None or time.monotonic() > deadline:
                raise TopologyError(f"nginx did not start: {(prefix / 'error.log').read_text(errors='replace')}")
            time.sleep(0.05)

    # -- for tests and people

    def by_service(self, service: str) -> list[Process]:
        return [process for process in self.processes if process.service == service]

    def database_url(self, service: str) -> str:
        """The service's own URL (its role, its database), as its containers have it."""
        return next(process.env[f"TS_{service.upper()}_DATABASE_URL"] for process in self.processes
                    if f"TS_{service.upper()}_DATABASE_URL" in process.env)

    def failed(self) -> list[Process]:
        return [process for process in self.processes if not process.alive()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("TS_HTTP_PORT", "8080")),
                        help="the gateway's port (default 8080, TS_HTTP_PORT)")
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=N",
                        help="several replicas of a worker, as `docker compose --scale`")
    args = parser.parse_args(argv)
    scale = {name: int(count) for name, _, count in (item.partition("=") for item in args.scale)}
    folder = Path(tempfile.mkdtemp(prefix="ts-topology-"))
    topology = Topology(folder, scale=scale, gateway_port=args.port)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        topology.start()
        print(f"Téléservices (docker-compose.yml, {len(topology.processes)} processes) on "
              f"http://127.0.0.1:{topology.gateway_port}/  — logs in {folder}/logs, emails in {topology.mail_folder}")
        accounts_env = folder / "accounts.env"  # `docker compose run accounts ...`: its container's variables
        accounts = topology.by_service("accounts")[0].env
        accounts_env.write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(accounts.items())
                                        if key.startswith(("TS_", "GUNICORN_", "PROMETHEUS_"))))
        print("No school nor staff yet; as `docker compose run accounts tsctl ...` would:\n"
              f"  (set -a; . {accounts_env}; .venv/bin/tsctl school add --uai 0541234X --name 'Collège Jean Moulin' "
              "--academy NCY)\n"
              f"  (set -a; . {accounts_env}; .venv/bin/tsctl staff create --login chef --name 'Chef' "
              "--head-of 0541234X)\nCtrl-C stops everything.")
        while not stopping:
            dead = topology.failed()
            if dead:
                print(f"stopped: {', '.join(p.name for p in dead)} — restarting (as compose's restart policy)")
                for process in dead:
                    topology.restart(process)
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except TopologyError as error:
        print(f"topology: {error}", file=sys.stderr)
        return 1
    finally:
        topology.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
