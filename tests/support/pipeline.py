"""Running several services' relays and workers together (threads), until a condition holds:
the whole event flow of a feature, on the in-memory broker or on RabbitMQ."""
from __future__ import annotations

import threading

from support.bus import wait_for
from ts_shared.runtime.process import Platform, build_worker


def run_services(platform: Platform, until, *, services=("accounts", "notifier"), timeout: float = 60.0) -> None:
    stop = threading.Event()
    workers = [build_worker(platform, name) for name in services if platform.spec(name).subscription]
    relays = [platform.runtime(name).relay() for name in services]
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in workers]
    threads += [threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_seconds": 0.05}, daemon=True)
                for relay in relays]
    for thread in threads:
        thread.start()
    try:
        wait_for(until, timeout=timeout)
    finally:
        stop.set()
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)
