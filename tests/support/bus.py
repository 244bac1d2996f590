"""Driving the bus in tests: reset the in-memory broker, run a worker until a condition holds,
read what sits in a queue."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from collections.abc import Callable

from kombu import Connection, Producer
from kombu.transport import memory
from sqlalchemy import func, select

from ts_shared.messaging.bus import (
    EVENTS_EXCHANGE, Subscription, dead_letter_queue_for, declare_topology, queue_for,
)
from ts_shared.messaging.consumer import Worker
from ts_shared.runtime.process import build_worker
from ts_shared.service import all_subscriptions


def reset_memory_broker() -> None:
    """kombu's in-memory broker is global to the process: empty it between tests."""
    memory.Channel.queues.clear()
    memory.Transport.global_state.clear()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def run_worker_until(worker: Worker, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(condition, timeout)
    finally:
        worker.stop()
        thread.join(timeout=10)


def count_rows(runtime, table, *where) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def consume_everything(platform, service: str, applied: int) -> None:
    """Run the service's worker until its queue is empty and `applied` events are recorded."""
    runtime = platform.runtime(service)
    run_worker_until(build_worker(platform, service), lambda: (
        queue_size(platform.settings.broker_url, runtime.spec.subscription) == 0
        and count_rows(runtime, runtime.spec.tables.processed_events) == applied))


def drain(broker_url: str, queue_name: str) -> list:
    """Take every message out of a queue (acked): [(body, headers, message_id)]."""
    taken = []
    with Connection(broker_url) as connection:
        from kombu import Queue

        queue = Queue(queue_name, no_declare=True)(connection.default_channel)
        while (message := queue.get(no_ack=False)) is not None:
            taken.append((message.decode(), message.headers or {}, message.properties.get("message_id")))
            message.ack()
    return taken


def queue_size(broker_url: str, subscription: Subscription, dead_letters: bool = False) -> int:
    with Connection(broker_url) as connection:
        factory = dead_letter_queue_for if dead_letters else queue_for
        return factory(subscription, broker_url)(connection.default_channel).queue_declare(passive=True).message_count


def publish_raw(broker_url: str, body, routing_key: str, message_id: str | None = None) -> None:
    """Publish to the events exchange as a relay would (tests use it to inject duplicates)."""
    publish_many(broker_url, [(body, routing_key, message_id)])


def publish_many(broker_url: str, messages, *, exchange=EVENTS_EXCHANGE, content_type: str | None = None,
                 headers: dict | None = None) -> None:
    """Publish [(body, routing_key, message_id)] on one connection, each confirmed. A bytes body
    goes as it is with `content_type` (e.g. one that does not decode)."""
    with Connection(broker_url, transport_options={"confirm_publish": True}) as connection:
        declare_topology(connection, all_subscriptions())
        producer = Producer(connection.default_channel)
        for body, routing_key, message_id in messages:
            encoding = {"content_type": content_type, "content_encoding": "binary"} if isinstance(body, bytes) \
                else {"serializer": "json"}
            producer.publish(body, exchange=exchange, routing_key=routing_key, message_id=message_id,
                             headers=headers or {}, delivery_mode=2, retry=False, **encoding)


@contextmanager
def repeated(action: Callable[[], None], every: float):
    """Run `action` every `every` seconds in a thread while the block runs (a steady trickle)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def run_relays_concurrently(relays: list, batch_size: int = 7) -> list[int]:
    """Run `publish_pending` of several relays at the same time on one outbox; return how many
    rows each published. Each relay holds the rows it claimed a little longer, so that the other
    claims meanwhile."""
    barrier = threading.Barrier(len(relays))
    published = [0] * len(relays)

    def run(index: int) -> None:
        relay = relays[index]
        relay.batch_size = batch_size
        claim = relay._claim

        def slow_claim():
            claimed = claim()
            time.sleep(0.01)
            return claimed

        relay._claim = slow_claim
        barrier.wait(timeout=30)
        published[index] = relay.publish_pending()
        relay.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(relays))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return published
