"""The broker topology and connections (kombu).

One durable topic exchange carries every event, routed by its type. Each service consumes from
its own queue, bound to the types in its handlers table. On RabbitMQ a queue is a quorum queue
with an explicit delivery limit and a dead-letter exchange, so a message that keeps killing its
consumer ends in `<queue>.dlq` instead of looping; the consumer also dead-letters by itself a
message whose handler keeps failing (which works on every transport, the in-memory one too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Mapping

from kombu import Connection, Exchange, Queue, binding

EVENTS_EXCHANGE = Exchange("ts.events", type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange("ts.dead-letter", type="direct", durable=True)

# Deliveries of one message before it is dead-lettered (handler failures and consumer crashes
# both count). A constant, not a setting: RabbitMQ refuses to redeclare a queue with other
# arguments, so every process must agree on it.
MAX_DELIVERIES = 5

# Longest wait between two attempts to reach a broker (relays and workers): once it is back,
# the bus drains within seconds.
BROKER_RETRY_MAX_SECONDS = 2.0


def is_amqp(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class Subscription:
    """A service's queue and what is bound to it: the event types it declares (the topology, known
    without loading the service), or the keys of its handlers table (the worker that runs them)."""

    queue: str
    handlers: Mapping[str, Callable] = field(default_factory=dict)
    max_deliveries: int = MAX_DELIVERIES
    event_types: frozenset[str] = frozenset()

    @property
    def routing_keys(self) -> list[str]:
        return sorted(self.event_types or self.handlers)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"


def queue_for(subscription: Subscription, broker_url: str) -> Queue:
    arguments = {}
    if is_amqp(broker_url):
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": subscription.max_deliveries - 1,  # redeliveries after the first
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": subscription.queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return Queue(
        subscription.queue,
        bindings=[binding(EVENTS_EXCHANGE, routing_key=key) for key in subscription.routing_keys],
        durable=True,
        queue_arguments=arguments,
    )


def dead_letter_queue_for(subscription: Subscription, broker_url: str) -> Queue:
    arguments = {"x-queue-type": "quorum"} if is_amqp(broker_url) else {}
    return Queue(
        subscription.dead_letter_queue,
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=subscription.queue,
        durable=True,
        queue_arguments=arguments,
    )


def connect(broker_url: str, *, confirm_publish: bool = False, heartbeat: int = 30) -> Connection:
    """A new connection (not yet opened). The pyamqp transport is not thread-safe: one per thread."""
    options = {"confirm_publish": True} if confirm_publish and is_amqp(broker_url) else {}
    return Connection(broker_url, transport_options=options, heartbeat=heartbeat if is_amqp(broker_url) else 0,
                      connect_timeout=5)


def declare_topology(connection: Connection, subscriptions: Iterable[Subscription]) -> None:
    """Declare the exchanges and every service's queue and dead-letter queue (idempotent).

    Relays declare it too, before publishing, so that no event is unroutable because its
    consumers have not started yet.
    """
    broker_url = connection.as_uri(include_password=True)
    channel = connection.default_channel
    EVENTS_EXCHANGE(channel).declare()
    DEAD_LETTER_EXCHANGE(channel).declare()
    for subscription in subscriptions:
        dead_letter_queue_for(subscription, broker_url)(channel).declare()
        queue_for(subscription, broker_url)(channel).declare()


def check_broker(broker_url: str, timeout: float = 3.0) -> None:
    """Raise if the broker cannot be reached (readiness probes)."""
    with Connection(broker_url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)
