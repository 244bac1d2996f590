"""What ops run beside the compose file agrees with it and with the code: the Prometheus alert rules
(deploy/prometheus/) name only metrics the services expose and fire when they should; the
Kubernetes manifests (deploy/k8s/) are valid against the Kubernetes schemas and run the same
processes, commands and environment as docker-compose.yml; docs/operations.md covers every alert.

promtool is Debian's (`prometheus` package, unpacked by `.ci/run`, or TS_TEST_PROMTOOL); the
Kubernetes schemas come with the `kubernetes-validate` package (installed by `make install`), so
nothing is fetched at test time.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import uuid
from functools import cache
from pathlib import Path

import pytest
import yaml

from support.infra import unavailable

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
K8S_DIR = ROOT / "deploy" / "k8s"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
KUBERNETES_VERSION = "1.30.0"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- Prometheus -------------------------------------------------------------------------------

def _promtool() -> str:
    executable = os.environ.get("TS_TEST_PROMTOOL") or shutil.which("promtool")
    if not executable:
        unavailable("promtool is not installed (Debian's prometheus package, or TS_TEST_PROMTOOL=/path/to/promtool): "
                    "the alert rules were only read")
    return executable


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _exposed_metrics() -> set[str]:
    """Every series name the services can expose, read from the collectors themselves."""
    import ts_shared.messaging.consumer  # noqa: F401  (registers nothing new, but loads the metrics)
    from prometheus_client.registry import REGISTRY

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("ts_"):
            names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def test_every_metric_an_alert_reads_is_exposed_by_the_services():
    exposed = _exposed_metrics()
    assert {"ts_outbox_oldest_pending_seconds", "ts_queue_messages", "ts_queue_consumers",
            "ts_event_lag_seconds_bucket", "ts_http_requests_total"} <= exposed
    for rule in _rules():
        expression = rule["expr"]
        # A series selector is a name followed by `{`, `[`, or used bare before a comparison.
        named = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*[{\[]", expression))
        named |= set(re.findall(r"\b(ts_[a-z0-9_]+)\b", expression))
        assert named, rule["alert"]
        unknown = named - exposed - {"up"}
        assert not unknown, f"{rule['alert']} reads metrics no service exposes: {unknown}"


def test_every_alert_has_a_severity_a_summary_and_a_runbook_entry():
    doc = OPERATIONS_DOC.read_text()
    for rule in _rules():
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert f"`{rule['alert']}`" in doc, f"docs/operations.md says nothing of {rule['alert']}"


def test_promtool_accepts_the_rules_and_the_scrape_configuration():
    promtool = _promtool()
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        result = subprocess.run([promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_fire_on_the_series_that_should_trigger_them():
    """promtool's rule unit tests (deploy/prometheus/alerts_test.yml): each alert fires after its
    delay on a faulty series and stays quiet on a healthy one."""
    result = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname:\s*(\w+)", (PROMETHEUS_DIR / "alerts_test.yml").read_text()))
    assert {"TeleservicesHigh5xxRate", "TeleservicesOutboxStuck", "TeleservicesDeadLetters",
            "TeleservicesQueueBacklog", "TeleservicesQueueWithoutConsumer"} <= tested


# --- The metrics behind the alerts --------------------------------------------------------------

def test_the_outbox_reports_how_old_its_oldest_unpublished_event_is(tmp_path):
    from datetime import timedelta

    from sqlalchemy import create_engine, insert, update

    from ts_shared.db import new_metadata, utcnow
    from ts_shared.messaging.outbox import messaging_tables, pending_summary

    metadata = new_metadata()
    outbox = messaging_tables(metadata).outbox
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata.create_all(engine)
    assert pending_summary(engine, outbox) == (0, 0.0)
    now = utcnow()
    with engine.begin() as connection:
        for minutes in (10, 3, 0):
            connection.execute(insert(outbox).values(
                event_id=str(uuid.uuid4()), event_type="account.created",
                envelope="{}", created_at=now - timedelta(minutes=minutes), attempts=0))
    count, age = pending_summary(engine, outbox)
    assert count == 3 and 600 <= age < 660
    with engine.begin() as connection:  # the oldest is published: the age is the next one's
        connection.execute(update(outbox).where(outbox.c.created_at < now - timedelta(minutes=5)).values(sent_at=now))
    count, age = pending_summary(engine, outbox)
    assert count == 2 and 180 <= age < 240
    engine.dispose()


def test_a_worker_reports_its_queue_and_dead_letter_queue_as_the_broker_counts_them():
    from kombu import Connection, Exchange, Producer, Queue

    from support.infra import create_rabbitmq_vhost, delete_rabbitmq_vhost
    from ts_shared.metrics import _QueueDepthCollector

    url = create_rabbitmq_vhost()
    try:
        with Connection(url) as connection:
            channel = connection.channel()
            exchange = Exchange("ops-test", type="direct")
            for name in ("ts.ops", "ts.ops.dlq"):
                Queue(name, exchange, routing_key=name, durable=True)(channel).declare()
            producer = Producer(channel, exchange)
            for _ in range(3):
                producer.publish({"n": 1}, routing_key="ts.ops")
            producer.publish({"n": 1}, routing_key="ts.ops.dlq")
        collector = _QueueDepthCollector()
        collector.watch(url, ["ts.ops", "ts.ops.dlq"])
        samples = {(family.name, sample.labels["queue"]): sample.value
                   for family in collector.collect() for sample in family.samples}
        assert samples == {("ts_queue_messages", "ts.ops"): 3, ("ts_queue_messages", "ts.ops.dlq"): 1,
                           ("ts_queue_consumers", "ts.ops"): 0, ("ts_queue_consumers", "ts.ops.dlq"): 0}
    finally:
        delete_rabbitmq_vhost(url)
    # The broker gone: the scrape still answers, without the figures.
    collector.watch(url, ["ts.ops"])
    assert all(not family.samples for family in collector.collect())


# --- Kubernetes -------------------------------------------------------------------------------

@cache
def _manifests() -> dict[str, list[dict]]:
    return {path.name: [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc]
            for path in sorted(K8S_DIR.glob("*.yaml")) if path.name != "kustomization.yaml"}


def _objects(kind: str | None = None) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for docs in _manifests().values() for doc in docs
            if kind is None or doc["kind"] == kind}


def test_every_kubernetes_manifest_is_valid_against_the_kubernetes_schemas():
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="make install provides it")
    checked = 0
    for name, docs in _manifests().items():
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {error.message} at {list(error.path)}")
            checked += 1
    assert checked >= 20


def test_the_validator_refuses_a_broken_manifest():
    """The check above can fail: a misspelt field and a wrong type are refused."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="make install provides it")
    deployment = _objects("Deployment")["accounts"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_every_manifest_but_the_migration_job():
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(set(_manifests()) - {"migrate-job.yaml"})
    assert kustomization["namespace"] == "teleservices"


_COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@cache
def _compose_services() -> dict:
    return yaml.load(COMPOSE_FILE.read_text(), Loader=_LOADER)["services"]


def _compose_environment(service: dict) -> dict[str, str]:
    """The container's environment with every `${VARIABLE…}` written «VARIABLE»."""
    return {key: _COMPOSE_VARIABLE.sub(lambda match: f"«{match[1]}»", str(value))
            for key, value in (service.get("environment") or {}).items()}


def _kubernetes_environment(container: dict) -> dict[str, str]:
    """The container's environment, with a value from the ConfigMap or the Secret written «KEY» and
    `$(NAME)` replaced by NAME's value (as Kubernetes expands it)."""
    values: dict[str, str] = {}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            source = entry["valueFrom"].get("secretKeyRef") or entry["valueFrom"]["configMapKeyRef"]
            assert source["name"] in ("teleservices-secrets", "teleservices-config"), entry
            values[entry["name"]] = f"«{source['key']}»"
        else:
            values[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda match: values[match[1]], entry["value"])
    return values


def _pod_spec(name: str) -> dict:
    objects = {**_objects("Deployment"), **_objects("Job")}
    assert name in objects, f"deploy/k8s has no Deployment or Job named {name} (compose service {name})"
    return objects[name]["spec"]["template"]["spec"]


def test_kubernetes_runs_every_process_of_the_compose_file_with_its_command_and_environment():
    services = _compose_services()
    app_containers = {name: service for name, service in services.items() if "build" in service}
    workloads = {**_objects("Deployment"), **_objects("Job")}
    assert set(workloads) == set(app_containers) | {"gateway"}, "one workload per compose process, no other"
    for name, service in app_containers.items():
        pod = _pod_spec(name)
        (container,) = pod["containers"]
        assert container["command"] == service["command"], name
        assert container["image"] == "teleservices:latest", name
        compose_env = _compose_environment(service)
        kubernetes_env = _kubernetes_environment(container)
        # The secrets and settings only used to build a URL (a database password) are extra names.
        extra = {key for key in set(kubernetes_env) - set(compose_env) if kubernetes_env[key] == f"«{key}»"}
        assert {key: value for key, value in kubernetes_env.items() if key not in extra} == compose_env, name
        assert all(f"«{key}»" in "".join(compose_env.values()) for key in extra), (name, extra)
        # The same writable places: tmpfs as memory-backed emptyDirs, named volumes as claims.
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is service["read_only"] is True, name
        for path in service.get("tmpfs", []):
            assert volumes[mounts.pop(path)]["emptyDir"] == {"medium": "Memory"}, (name, path)
        for volume in service.get("volumes", []):
            claim, path = volume.split(":")[:2]
            assert volumes[mounts.pop(path)]["persistentVolumeClaim"]["claimName"] == claim, (name, path)
        assert not mounts, f"{name}: mounts compose does not have: {mounts}"


def test_kubernetes_config_defaults_are_the_compose_defaults_and_secrets_are_not_in_it():
    config = _objects("ConfigMap")["teleservices-config"]["data"]
    text = COMPOSE_FILE.read_text()
    defaults = {match[1]: match[2] for match in re.finditer(r"\$\{(\w+):-([^}]*)\}", text)}
    required = set(re.findall(r"\$\{(\w+):\?", text))
    for key, value in config.items():
        assert "PASSWORD" not in key and key not in ("TS_SECRET_KEY", "TS_INTERNAL_TOKEN", "TS_EVENT_KEY"), key
        assert key in defaults or key in required, f"{key} is not read by docker-compose.yml"
        if key in defaults and key != "TS_SMTP_USERNAME":
            assert value == defaults[key], key
    referenced = {entry["valueFrom"]["configMapKeyRef"]["key"] for pod in map(_pod_spec, _compose_services_with_build())
                  for entry in pod["containers"][0].get("env", [])
                  if "configMapKeyRef" in entry.get("valueFrom", {})}
    assert referenced <= set(config)


def _compose_services_with_build() -> list[str]:
    return [name for name, service in _compose_services().items() if "build" in service]


def test_web_pods_are_ready_only_when_their_service_is_and_the_jobs_never_run_twice():
    services = _compose_services()
    for name, service in services.items():
        if "build" not in service or name == "migrate":
            continue
        deployment = _objects("Deployment")[name]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        if service["command"][0] == "gunicorn":
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert _objects("Service")[name]["spec"]["ports"][0]["port"] == 8000, name
        else:
            assert container["ports"] == [{"name": "metrics", "containerPort": 9100}], name
        if service["command"][:2] == ["tsctl", "jobs"]:
            assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate", name
    # The hosts the compose file's URLs name exist as Services (the infrastructure as ExternalName).
    for host in ("postgres", "rabbitmq", "accounts", "gateway"):
        assert host in _objects("Service"), host
    gateway = _objects("Deployment")["gateway"]["spec"]["template"]["spec"]
    assert gateway["containers"][0]["image"] == services["gateway"]["image"]
    assert gateway["volumes"][0]["configMap"]["name"] == "gateway-nginx"
