"""Start the product's own processes (as `make run` does) on free ports, for benchmarks."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bot.config import REPO_ROOT, Settings
from bot.repository import Repository, new_case_code
from bot.run import services
from tests.conftest import environment_for_tests, free_port, wait_until


@contextlib.contextmanager
def running(fake_zalo_url: str, fake_graph_url: str, workers: int = 1):
    """Yields the web app's base URL once /healthz answers 200; stops everything afterwards."""
    with running_processes(fake_zalo_url, fake_graph_url, workers) as (url, _, _):
        yield url


@contextlib.contextmanager
def running_processes(fake_zalo_url: str, fake_graph_url: str, workers: int = 1, extra_env: dict | None = None):
    """Yields (base URL, {service name: pid}, database URI) once /healthz answers 200."""
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "NLU_URL")}
        env.update(environment_for_tests(None, None, fake_zalo_url, fake_graph_url, var))
        env = {k: v for k, v in env.items() if v is not None}
        env.update(PORT=str(port), NLU_PORT=str(free_port()), EMBEDDED_DB_PORT=str(free_port()),
                   PYTHONUNBUFFERED="1", WORKERS=str(workers))
        env.update(extra_env or {})  # may name a port too (a bench that reads the database itself)
        settings = Settings.from_env(env)
        env.update(MONGODB_URI=settings.database_uri, NLU_URL=settings.nlu_base_url)
        logs = Path(var) / "logs"
        logs.mkdir()
        names = [name for name, _ in services(settings)]
        processes = [subprocess.Popen(["bash", "-c", command], cwd=REPO_ROOT, env=env,
                                      stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT)
                     for name, command in services(settings)]
        try:
            started = time.monotonic()
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _healthy(url), 300, "the services", interval=0.2)
            print(f"all services healthy {time.monotonic() - started:.1f} s after start")
            # Each service's command starts with `exec`: the pid is the service's own process.
            yield url, {name: process.pid for name, process in zip(names, processes)}, settings.database_uri
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_memory_mb(pid: int) -> float:
    """VmRSS from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def web_on_embedded_database(name: str, seed, ready_path: str, env: dict | None = None, checkout: Path = REPO_ROOT):
    """One web process (`python -m bot.web`, waitress, as `make run` starts it) of `checkout` on a
    fresh embedded database that `seed(repository)` filled first; no NLU server. Yields (base URL,
    repository, VAR_DIR) once `ready_path` answers 200."""
    with tempfile.TemporaryDirectory() as var:
        db_port, web_port = free_port(), free_port()
        database = subprocess.Popen([sys.executable, "-m", "bot.embedded_db", "--port", str(db_port),
                                     "--data-dir", f"{var}/db", "--pid-file", f"{var}/db.pid",
                                     "--log-file", f"{var}/db.log"], cwd=REPO_ROOT)
        uri = f"mongodb://127.0.0.1:{db_port}/{name}"
        repository = Repository(uri)
        web = None
        try:
            repository.wait_until_ready(30)
            seed(repository)
            web_env = dict(os.environ, MONGODB_URI=uri, NLU_URL="http://127.0.0.1:9", VAR_DIR=var, PORT=str(web_port),
                           ADMIN_PASSWORD="not-used-here-123", PYTHONPATH=str(checkout), **(env or {}))
            web = subprocess.Popen([str(checkout / ".venv" / "bin" / "python"), "-m", "bot.web"], cwd=checkout,
                                   env=web_env, stdout=open(Path(var) / "web.log", "w"), stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{web_port}"

            def up():
                try:
                    return requests.get(url + ready_path, timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(up, 60, "the web process")
            yield url, repository, Path(var)
        finally:
            if web is not None:
                web.terminate()
                web.wait(timeout=30)
            repository.close()
            database.terminate()
            database.wait(timeout=30)


def case_codes(count: int) -> list[str]:
    """`count` distinct case codes: 10,000 random ones collide about one time in twenty."""
    codes: dict[str, None] = {}
    while len(codes) < count:
        codes[new_case_code()] = None
    return list(codes)
