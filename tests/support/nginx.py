"""The production gateway (deploy/gateway/nginx.conf) run by the real nginx around local
services, for tests. Without nginx (on PATH, or TS_TEST_NGINX) those tests skip with the reason,
or fail under TS_REQUIRE_SERVICES=1 (`.ci/run` provides nginx)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from support.infra import unavailable
from ts_shared.runtime.mail_sink import free_port

NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gateway" / "nginx.conf"


def nginx_executable() -> str:
    executable = os.environ.get("TS_TEST_NGINX") or shutil.which("nginx")
    if not executable:
        unavailable("nginx is not installed (apt-get install nginx, or TS_TEST_NGINX=/path/to/nginx): "
                    "the gateway configuration was only read")
    return executable


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def nginx_gateway(tmp_path: Path, upstreams: dict[str, int]) -> Iterator[int]:
    """The production gateway configuration, run by the real nginx with each upstream service
    pointed at a local port; yields the port nginx listens on."""
    nginx = nginx_executable()
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = NGINX_CONF.read_text()
    rewrites = [
        (r"^user\s+\S+;", ""),
        (r"^pid\s+\S+;", f"pid {tmp_path}/nginx.pid;"),
        (r"include\s+/etc/nginx/mime\.types;", f"include {tmp_path}/mime.types;"),
        (r"listen\s+80\b", f"listen 127.0.0.1:{port}"),
        (r"^http \{", "http {\n" + "".join(f"    {kind}_temp_path {tmp_path}/{kind};\n"
                                             for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))),
    ] + [(rf"server\s+{service}:8000;", f"server 127.0.0.1:{upstream_port};")
         for service, upstream_port in upstreams.items()]
    for pattern, replacement in rewrites:
        conf, count = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
        assert count, f"nginx.conf no longer contains {pattern!r}: update this test"
    (tmp_path / "mime.types").write_text("types { text/html html; text/css css; }\n")
    (tmp_path / "nginx.conf").write_text(conf)
    process = subprocess.Popen([nginx, "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            assert process.poll() is None, f"nginx did not start: {process.stderr.read()}"
            assert time.monotonic() < deadline, "nginx did not listen within 10 s"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
