"""`make run`: start the database (embedded, unless MONGODB_URI is set), bring its schema up to
date, then start the NLU server (unless NLU_URL is set), the web app (waitress, or gunicorn when
WEB_PROCESSES > 1), WORKERS workers and the daily jobs (the backup, the retention of personal data); restart any of them that dies
(bot/supervisor.py); Ctrl-C stops them all.

The same commands serve the systemd units of deploy/: `python -m bot.run --prepare` does what
happens between the database and the other services (schema, metrics folder, secret key), and
`python -m bot.run --service NAME` becomes one service's process."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from bot.config import REPO_ROOT, Settings, load_env_file, private_dir
from bot.console.access import WeakAdminPassword, check_admin_password
from bot.migrations import SchemaTooNew
from bot.repository import DatabaseUnavailable, Repository
from bot.supervisor import REFUSED, Supervisor

APP_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"
BEFORE_SCHEMA = ("database", "nlu")  # started before the schema is checked (the NLU model loads meanwhile)
DATABASE_DEADLINE = 120.0


def services(settings: Settings) -> list[tuple[str, str]]:
    found = []
    if not settings.mongodb_uri:
        var = settings.var_dir
        found.append(("database", f"exec {APP_PYTHON} -m bot.embedded_db --port {settings.embedded_db_port}"
                                  f" --data-dir {var / 'db'} --pid-file {var / 'db.pid'}"
                                  f" --log-file {var / 'db.log'} --password-file {settings.embedded_db_password_file}"))
    if not settings.nlu_url:
        found.append(("nlu", f"exec {NLU_PYTHON} -m nlu serve --host 127.0.0.1 --port {settings.nlu_port}"))
    found.append(("web", web_command(settings)))
    for n in range(1, settings.workers + 1):
        found.append((f"worker{n}" if settings.workers > 1 else "worker", f"exec {APP_PYTHON} -m bot.worker"))
    if settings.backup_at or settings.retention_at and settings.retention_months:
        found.append(("scheduler", f"exec {APP_PYTHON} -m bot.scheduler"))
    return found


def web_command(settings: Settings) -> str:
    """waitress in one process, or gunicorn with WEB_PROCESSES processes on the same port."""
    if settings.web_processes == 1:
        return f"exec {APP_PYTHON} -m bot.web"
    return (f"exec {APP_PYTHON} -m gunicorn -c {shlex.quote(str(REPO_ROOT / 'bot' / 'gunicorn_conf.py'))}"
            f" -w {settings.web_processes} -b {shlex.quote(_bind_address(settings))} 'bot.app:create_app()'")


def _bind_address(settings: Settings) -> str:
    return f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"


def environment(settings: Settings) -> dict:
    """What every service is started with."""
    # The embedded database's URI is not passed on: it carries the password, and each service makes
    # the same one from VAR_DIR and EMBEDDED_DB_PORT.
    return dict(os.environ, NLU_URL=settings.nlu_base_url, PYTHONUNBUFFERED="1",
                PROMETHEUS_MULTIPROC_DIR=str(settings.var_dir / "metrics"),
                **({"MONGODB_URI": settings.mongodb_uri} if settings.mongodb_uri else {}))


def prepare(settings: Settings) -> None:
    """Between the database and the other services: generate the secret key once (not in two
    services at the same time), wait for the database and migrate it (raises SchemaTooNew),
    empty the metrics folder (prometheus-client's multiprocess mode requires it at each start:
    the web process reports the workers' counters too)."""
    tighten(settings.var_dir)
    settings.secret_key()
    repository = Repository(settings.database_uri)
    try:
        repository.wait_until_ready(DATABASE_DEADLINE)
        if not repository.count_staff():  # said once here, not by a web service restarted in a loop
            check_admin_password(settings)
    finally:
        repository.close()
    metrics_dir = settings.var_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)


def tighten(var_dir: Path) -> None:
    """VAR_DIR holds citizens' data, password hashes, keys and tokens: the app's user only (0700
    folders, 0600 files), also for what an earlier version made with looser rights."""
    private_dir(var_dir)
    for path in var_dir.rglob("*"):
        try:
            status = path.lstat()
            if path.is_symlink() or status.st_uid != os.getuid() or not status.st_mode & 0o077:
                continue
            path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:
            continue


def refuse(reason: Exception) -> None:
    print(f"Tổng đài 1022 cannot start: {reason}", file=sys.stderr, flush=True)


def supervise(settings: Settings) -> int:
    supervisor = Supervisor(environment(settings), str(REPO_ROOT))
    supervisor.handle_signals()
    every = services(settings)
    for name, command in every:
        if name in BEFORE_SCHEMA:
            supervisor.start(name, command)
    try:
        supervisor.run_while(lambda: prepare(settings))
    except (SchemaTooNew, WeakAdminPassword, DatabaseUnavailable) as exc:
        refuse(exc)
        supervisor.stop()
        return 1 if isinstance(exc, DatabaseUnavailable) else REFUSED
    if supervisor.stopping.is_set():
        supervisor.stop()
        return 0
    for name, command in every:
        if name not in BEFORE_SCHEMA:
            supervisor.start(name, command)
    print(f"Tổng đài 1022 starting at http://{settings.host}:{settings.port}/ "
          "(Ctrl-C stops everything)", flush=True)
    return supervisor.run_forever()


def become(settings: Settings, name: str) -> None:
    """Replace this process with one service (systemd runs each service as its own unit)."""
    commands = {n.rstrip("0123456789") if n.startswith("worker") else n: c for n, c in services(settings)}
    if name not in commands:
        raise SystemExit(f"no service {name!r} with these settings; there are: {', '.join(commands)}")
    (settings.var_dir / "metrics").mkdir(parents=True, exist_ok=True)
    os.chdir(REPO_ROOT)
    os.execve("/bin/sh", ["/bin/sh", "-c", commands[name]], environment(settings))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.run", description=__doc__.split("\n\n")[0])
    one = parser.add_mutually_exclusive_group()
    one.add_argument("--prepare", action="store_true", help="migrate the database and exit")
    one.add_argument("--service", metavar="NAME", help="run one service in this process")
    args = parser.parse_args()
    os.umask(0o077)  # every service's files (database, media, keys, backups): the app's user only
    load_env_file()
    settings = Settings.from_env()
    if args.service:
        become(settings, args.service)
    if args.prepare:
        try:
            prepare(settings)
        except (SchemaTooNew, WeakAdminPassword, DatabaseUnavailable) as exc:
            refuse(exc)
            sys.exit(1 if isinstance(exc, DatabaseUnavailable) else REFUSED)
        return
    sys.exit(supervise(settings))


if __name__ == "__main__":
    main()
