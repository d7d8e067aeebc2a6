"""Debian's nginx in front of the web instances, standing in for the Kubernetes Service and Ingress."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.scale.processes import ManagedProcess, wait_port
from tests.support.servers import free_port

# What ingress-nginx does by default: a failed connection or a timeout is retried on the next
# instance, at most three tries; a POST that reached an instance is never retried by the proxy
# (nginx knows nothing of Idempotency-Key), so that retry is the client's. Buffering is off so
# event streams flow. Idle upstream connections are dropped before gunicorn's own keep-alive
# (5 s) would drop them under a request in flight.
CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
{user}pid {root}/nginx.pid;
error_log {logs}/nginx-error.log info;

events {{
    worker_connections 1024;
}}

http {{
    log_format scale '$msec $request_method $uri $status $request_time '
                     'upstream=$upstream_addr upstream_status=$upstream_status '
                     'upstream_time=$upstream_response_time';
    access_log {logs}/nginx-access.log scale;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;

    upstream chatdesk {{
{servers}
        keepalive 32;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://chatdesk;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class ProxiedRequest:
    """One line of the access log: when it ended (time.monotonic()), and which instances it tried."""

    ended: float
    method: str
    path: str
    status: int
    upstreams: tuple[str, ...]
    upstream_statuses: tuple[str, ...]

    @property
    def retried(self) -> bool:
        """The proxy tried another instance after the first failed (the client never saw it)."""
        return len(self.upstreams) > 1


def read_access_log(path: Path) -> list[ProxiedRequest]:
    """The access log in the ``scale`` format, its wall-clock times turned into monotonic ones."""
    offset = time.time() - time.monotonic()
    requests = []
    for line in path.read_text().splitlines():
        head, _, rest = line.partition(" upstream=")
        fields = head.split()
        addresses, _, rest = rest.partition(" upstream_status=")
        statuses, _, _ = rest.partition(" upstream_time=")
        if len(fields) < 4 or not fields[3].isdigit():
            continue
        requests.append(ProxiedRequest(float(fields[0]) - offset, fields[1], fields[2], int(fields[3]),
                                       tuple(a.strip() for a in addresses.split(",")),
                                       tuple(s.strip() for s in statuses.split(","))))
    return requests


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed: `apt-get install -y nginx` (make scale-test does it)")
    return found


def render_config(root: Path, logs: Path, port: int, upstream_ports: Sequence[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstream_ports)
    # As root, nginx's workers would switch to `nobody`, who cannot write to the harness's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return CONFIG.format(user=user, root=root, logs=logs, port=port, servers=servers)


class Nginx:
    """nginx on a free loopback port, with its configuration, pid and temp files in ``root``."""

    def __init__(self, root: Path, logs: Path, upstream_ports: Sequence[int]) -> None:
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "nginx.conf"
        self.access_log = logs / "nginx-access.log"
        self.config.write_text(render_config(root, logs, self.port, upstream_ports))
        argv = [nginx_binary(), "-p", str(root), "-c", str(self.config), "-e", str(logs / "nginx-error.log")]
        self.process = ManagedProcess("nginx", argv, dict(os.environ), logs / "nginx.log", cwd=root)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        wait_port(self.port)

    def stop(self) -> None:
        self.process.stop(timeout=10)

    def requests(self) -> list[ProxiedRequest]:
        return read_access_log(self.access_log)
