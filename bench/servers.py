"""Serve the farm on 127.0.0.1: nginx from Debian's packages with our own config, else a Python server.

    with serve(farm_root, work_dir, ports=1) as server:
        server.kind, server.bases  # "nginx 1.22.1", ["http://127.0.0.1:40123"]

nginx runs in the foreground (`daemon off`) in its own process group, with a config, pid file, logs
and temp paths of ours under the work dir; it dies with the bench (PR_SET_PDEATHSIG) and is
stopped, group and all, when the `with` block ends, however it ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.proctree import die_with_parent, kill_group

NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
POLICY_RC = Path("/usr/sbin/policy-rc.d")

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    etag on;
    if_modified_since exact;
    server {{
{listens}
        root {root};
        location / {{ }}
    }}
}}
"""


@dataclass(frozen=True)
class Server:
    kind: str  # what served the farm, for the results: "nginx 1.22.1" or "python http.server (fallback)"
    bases: tuple[str, ...]  # one base URL per port


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def find_nginx(*, install: bool = True) -> str | None:
    """The nginx binary; installed from Debian's packages (nginx-light) when missing and we may."""
    found = shutil.which("nginx") or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("bench: nginx missing; apt-get install nginx-light", file=sys.stderr)
    # Debian starts a freshly installed nginx as a service on port 80: a policy-rc.d forbids that.
    own_policy = not POLICY_RC.exists()
    if own_policy:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        command = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends"]
        if subprocess.run([*command, "nginx-light"], env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"], env=env, capture_output=True)
            if subprocess.run([*command, "nginx-light"], env=env, capture_output=True).returncode != 0:
                subprocess.run([*command, "nginx"], env=env, capture_output=True)
    finally:
        if own_policy:
            POLICY_RC.unlink(missing_ok=True)
    return shutil.which("nginx") or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)


def nginx_version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True)
    return (result.stderr or result.stdout).strip().split("/")[-1] or "?"


def _wait_listening(ports: list[int], process: subprocess.Popen, log: Path | None, deadline: float = 20) -> None:
    until = time.monotonic() + deadline
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            detail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {process.returncode} before listening: {detail}")
        if time.monotonic() > until:
            raise RuntimeError(f"server not listening on {pending} after {deadline:g}s")
        try:
            with socket.create_connection(("127.0.0.1", pending[0]), timeout=1):
                pending.pop(0)
        except OSError:
            time.sleep(0.05)


def _worker_user(root: Path) -> str:
    """nobody when every directory down to the farm lets others through, else root (a private temp dir)."""
    for directory in (root.resolve(), *root.resolve().parents):
        if not directory.stat().st_mode & 0o001:
            return "root root"
    return "nobody nogroup"


def _start_nginx(binary: str, root: Path, work: Path, ports: list[int]) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    user = f"user {_worker_user(root)};\n" if os.geteuid() == 0 else ""
    listens = "\n".join(f"        listen 127.0.0.1:{port} reuseport;" for port in ports)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, work=work, root=root.resolve(), listens=listens))
    log = work / "error.log"
    process = subprocess.Popen([binary, "-p", str(work), "-c", str(conf), "-e", str(log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=die_with_parent)
    try:
        _wait_listening(ports, process, log)
    except BaseException:
        kill_group(process)
        raise
    return process


def _start_python(root: Path, ports: list[int]) -> subprocess.Popen:
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-m", "bench.fileserver", str(root), *map(str, ports)],
                               cwd=repo, stdout=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=die_with_parent)
    try:
        _wait_listening(ports, process, None)
    except BaseException:
        kill_group(process)
        raise
    return process


@contextmanager
def serve(root: Path, work: Path, *, ports: int = 1, prefer: str = "nginx") -> Iterator[Server]:
    """Serve `root` on `ports` free loopback ports until the block ends; `prefer="python"` skips nginx."""
    numbers = free_ports(ports)
    binary = find_nginx() if prefer == "nginx" else None
    process = None
    kind = ""
    if binary:
        try:
            process = _start_nginx(binary, root, work / "nginx", numbers)
            kind = f"nginx {nginx_version(binary)} (Debian package, our config, 1 worker)"
        except RuntimeError as exc:
            print(f"bench: nginx did not start ({exc}); falling back to the Python server", file=sys.stderr)
    if process is None:
        process = _start_python(root, numbers)
        why = "asked for" if prefer != "nginx" else "nginx failed to start" if binary else "nginx not available"
        kind = f"python http.server (fallback: {why})"
    try:
        yield Server(kind, tuple(f"http://127.0.0.1:{port}" for port in numbers))
    finally:
        kill_group(process)
