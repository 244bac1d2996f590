"""`tsctl`, the ops command: run the embedded system, migrate, run workers and relays, inspect the
outboxes and dead-letter queues; each service adds its own commands (school, staff, import...)."""
from __future__ import annotations

import json
import signal
import sys
import threading

import click
from kombu import Connection, Producer

from ts_shared.config import ConfigError, Settings
from ts_shared.db import current_revision, schema_drift
from ts_shared.logging import configure_logging
from ts_shared.messaging.bus import dead_letter_queue_for, is_amqp
from ts_shared.messaging.outbox import pending_count
from ts_shared.metrics import OUTBOX_PENDING, QUEUE_DEPTH, serve_worker_metrics
from ts_shared.runtime.process import Platform, run_jobs_forever, run_relay_forever, run_worker_forever
from ts_shared.service import discover_services


class _Root(click.Group):
    """Adds the services' own commands next to the platform's."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._service_commands()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self._service_commands().get(name)

    @staticmethod
    def _service_commands() -> dict[str, click.Command]:
        return {
            command.name: command
            for spec in discover_services().values()
            for command in spec.commands
            if command.name
        }


@click.group(cls=_Root)
@click.pass_context
def cli(ctx: click.Context):
    """Téléservices operations. Configuration comes from TS_* environment variables."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    configure_logging("tsctl", settings.log_level, settings.log_format)
    ctx.obj = Platform(settings)
    ctx.call_on_close(ctx.obj.dispose)


def _services(platform: Platform, names: tuple[str, ...]) -> list[str]:
    if not names or names == ("all",):
        return list(platform.specs)
    unknown = [name for name in names if name not in platform.specs]
    if unknown:
        raise click.BadParameter(f"unknown service(s) {', '.join(unknown)} (known: {', '.join(platform.specs)})")
    return list(names)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo school and staff.")
@click.pass_obj
def run(platform: Platform, host: str, no_demo: bool):
    """Run the whole system on one port (embedded mode: SQLite, in-process broker)."""
    from ts_shared.runtime.embedded import build_embedded_system

    settings = platform.settings
    try:
        system = build_embedded_system(settings, host=host, seed_demo=not no_demo)
    except OSError as error:
        raise click.ClickException(f"cannot listen: {error}. Choose another port with TS_PORT=...") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    system.start()
    click.echo("")
    click.echo(f"  Téléservices est prêt : {system.url}/")
    click.echo(f"    Scolarité services (familles)      {system.url}/")
    click.echo(f"    Administration Téléservices        {system.url}/admin/")
    click.echo(f"    Courriels envoyés (démonstration)  {system.url}/dev/mail/")
    for line in system.credentials:
        click.echo(f"    {line}")
    click.echo(f"  Données : {settings.data_dir}   (Ctrl-C pour arrêter)")
    click.echo("")
    stop.wait()
    click.echo("Arrêt en cours…")
    system.stop()
    click.echo("Arrêté proprement.")


@cli.group()
def db():
    """Databases: migrate, check, show revisions."""


@db.command("upgrade")
@click.argument("services", nargs=-1)
@click.pass_obj
def db_upgrade(platform: Platform, services):
    """Apply migrations (all services, or those named)."""
    for name in _services(platform, services):
        platform.runtime(name).migrate()
        click.echo(f"{name}: at {current_revision(platform.runtime(name).engine)}")


@db.command("check")
@click.argument("services", nargs=-1)
@click.pass_obj
def db_check(platform: Platform, services):
    """Fail if a database differs from its service's models (like `alembic check`)."""
    failed = False
    for name in _services(platform, services):
        runtime = platform.runtime(name)
        drift = schema_drift(runtime.engine, runtime.spec.metadata)
        click.echo(f"{name}: {'OK' if not drift else 'DRIFT ' + repr(drift)}")
        failed |= bool(drift)
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("service")
@click.pass_obj
def worker(platform: Platform, service: str):
    """Consume the service's queue (scale by running several)."""
    _services(platform, (service,))
    spec = platform.spec(service)
    if spec.subscription is None:
        raise click.ClickException(f"service {service} consumes no event: it has no worker")
    QUEUE_DEPTH.watch(platform.settings.broker_url, [spec.subscription.queue, spec.subscription.dead_letter_queue])
    serve_worker_metrics()
    run_worker_forever(platform, service)


@cli.command()
@click.argument("service")
@click.pass_obj
def relay(platform: Platform, service: str):
    """Publish the service's outbox to the broker (several may run at once)."""
    _services(platform, (service,))
    runtime = platform.runtime(service)
    OUTBOX_PENDING.add(service, runtime.engine, runtime.spec.tables.outbox)
    serve_worker_metrics()
    run_relay_forever(platform, service)


@cli.command()
@click.argument("service")
@click.option("--once", is_flag=True, help="Run each job once and exit (e.g. from cron).")
@click.pass_obj
def jobs(platform: Platform, service: str, once: bool):
    """Run the service's periodic jobs (e.g. accounts: expiry of accounts and links, B7/I1)."""
    _services(platform, (service,))
    spec = platform.spec(service)
    if not spec.jobs:
        raise click.ClickException(f"service {service} has no periodic job")
    if once:
        runtime = platform.runtime(service)
        for job in spec.jobs:
            click.echo(f"{job.name}: {job.run(runtime)}")
        return
    serve_worker_metrics()
    run_jobs_forever(platform, service)


@cli.group()
def outbox():
    """Outboxes of the services."""


@outbox.command("status")
@click.pass_obj
def outbox_status(platform: Platform):
    """Events waiting to be published, per service."""
    for name in platform.specs:
        runtime = platform.runtime(name)
        click.echo(f"{name}: {pending_count(runtime.engine, runtime.spec.tables.outbox)} pending")


@cli.group()
def dlq():
    """Dead-letter queues (RabbitMQ): messages a service could not handle."""


def _require_amqp(platform: Platform) -> None:
    if not is_amqp(platform.settings.broker_url):
        raise click.ClickException("dead-letter queues are inspected on RabbitMQ (TS_BROKER_URL=amqp://...); "
                                   "the embedded in-process broker lives inside `tsctl run`")


def _dead_letter_queue(platform: Platform, service: str, connection: Connection):
    _require_amqp(platform)
    _services(platform, (service,))
    subscription = platform.spec(service).subscription
    if subscription is None:
        raise click.ClickException(f"service {service} consumes no event")
    return subscription, dead_letter_queue_for(subscription, platform.settings.broker_url)(connection.default_channel)


def _undecodable(message) -> str | None:
    """Why the message's body does not decode, or None if it does."""
    try:
        message.decode()
    except Exception as error:  # whatever the serializer raises: the body is shown raw instead
        return f"{type(error).__name__}: {error}"
    return None


# Headers a dead-lettering adds: a replayed message starts afresh (a new dead-lettering sets them again).
_DEAD_LETTER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                        "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason")


@dlq.command("show")
@click.argument("service")
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def dlq_show(platform: Platform, service: str, limit: int):
    """Print the dead-lettered messages of a service (they stay in the queue). A body that does
    not decode is printed raw."""
    with Connection(platform.settings.broker_url) as connection:
        subscription, queue = _dead_letter_queue(platform, service, connection)
        seen = []
        for _ in range(limit):
            message = queue.get(no_ack=False)
            if message is None:
                break
            seen.append(message)
            headers = message.headers or {}
            line = {"message_id": message.properties.get("message_id"),
                    "error": headers.get("x-ts-error") or str(headers.get("x-death", "")),
                    "deliveries": headers.get("x-ts-deliveries")}
            reason = _undecodable(message)
            if reason is None:
                line["body"] = message.decode()
            else:
                body = message.body
                line.update(
                    {
                        "does_not_decode": reason,
                        "content_type": message.content_type,
                        "raw_body": body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body),
                    }
                )
            click.echo(json.dumps(line, ensure_ascii=False, default=str))
        for message in seen:
            message.requeue()
        click.echo(f"{len(seen)} message(s) in {subscription.dead_letter_queue}")


@dlq.command("replay")
@click.argument("service")
@click.pass_obj
def dlq_replay(platform: Platform, service: str):
    """Publish the dead-lettered messages of a service again (after fixing the cause), each once:
    those there when the command starts. A message whose body does not decode stays, and is named."""
    replayed, skipped = 0, []
    with Connection(platform.settings.broker_url, transport_options={"confirm_publish": True}) as connection:
        subscription, queue = _dead_letter_queue(platform, service, connection)
        # What is dead-lettered again while this runs (still failing) waits for the next call.
        there = queue.queue_declare(passive=True).message_count
        producer = Producer(connection.default_channel)
        for _ in range(there):
            message = queue.get(no_ack=False)
            if message is None:
                break
            reason = _undecodable(message)
            if reason is not None:
                skipped.append((message, reason))  # held (unacknowledged) until the end: taken once
                continue
            headers = {name: value for name, value in (message.headers or {}).items()
                       if not name.startswith("x-ts-") and name not in _DEAD_LETTER_HEADERS}
            # Straight to the service's own queue (default exchange): other services had it already.
            producer.publish(message.body, exchange="", routing_key=subscription.queue,
                             content_type=message.content_type, content_encoding=message.content_encoding,
                             headers=headers, message_id=message.properties.get("message_id"), delivery_mode=2,
                             retry=False)
            message.ack()
            replayed += 1
        for message, _ in skipped:
            message.requeue()
    click.echo(f"{replayed} message(s) replayed to {subscription.queue}")
    if skipped:
        click.echo(f"{len(skipped)} message(s) skipped, left in {subscription.dead_letter_queue} "
                   f"(they do not decode; `tsctl dlq show {service}` prints them raw):")
        for message, reason in skipped:
            click.echo(f"  {message.properties.get('message_id') or '(no message id)'}: {reason}")


def main() -> None:
    cli(prog_name="tsctl")



if __name__ == "__main__":
    main()
