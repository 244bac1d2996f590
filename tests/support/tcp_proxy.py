"""A userspace TCP proxy for fault tests: forward, slow down, go silent, stop forwarding one way,
cut, refuse.

    proxy = TcpProxy("127.0.0.1", 5672).start()
    url = proxy.reroute("amqp://guest:guest@127.0.0.1:5672/vhost")   # the same broker, through the proxy
    proxy.delay = 0.02               # every byte arrives 20 ms late, each way (a slow link)
    proxy.stalled = True             # connections stay open, nothing goes through (a silent peer);
                                     # what was sent meanwhile arrives once it is set back to False
    proxy.drop_downstream = True     # the broker's answers (e.g. confirms) no longer arrive
    proxy.cut()                      # close every open connection
    proxy.refusing = True            # new connections are closed at once
"""
from __future__ import annotations

import select
import socket
import threading
import time
from collections import deque


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self.port = self._listener.getsockname()[1]
        self.refusing = False
        self.stalled = False
        self.delay = 0.0
        self.drop_downstream = False  # target → client bytes are read and thrown away
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def reroute(self, url: str) -> str:
        """The same broker or database URL, reached through the proxy."""
        target = f"{self.target[0]}:{self.target[1]}"
        if target not in url:
            raise ValueError(f"{url} does not point at {target}")
        return url.replace(target, f"127.0.0.1:{self.port}")

    def start(self) -> TcpProxy:
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        # Bytes on their way to each socket, with the time they may leave (order kept).
        in_flight: dict[socket.socket, deque] = {client: deque(), upstream: deque()}
        try:
            while not self._closed.is_set():
                if self.stalled:  # read nothing, send nothing: the kernel buffers what comes
                    time.sleep(0.05)
                    continue
                now = time.monotonic()
                for destination, chunks in in_flight.items():
                    while chunks and chunks[0][0] <= now:
                        destination.sendall(chunks.popleft()[1])
                waits = [chunks[0][0] - now for chunks in in_flight.values() if chunks]
                readable, _, _ = select.select([client, upstream], [], [], max(0.0, min([0.05, *waits])))
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is upstream and self.drop_downstream:
                        continue
                    in_flight[peer[source]].append((time.monotonic() + self.delay, data))
        except (OSError, ValueError):
            return
        finally:
            for sock in (client, upstream):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Close every open connection (as a network failure would)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()
