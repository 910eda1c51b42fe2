"""`make run`'s daily jobs: the nightly backup at BACKUP_AT (bot/backup.py) and the retention job at
RETENTION_AT (bot/retention.py), Vietnam time. It sleeps until the next one is due, runs it, and
again the next day. A failed job is logged and tried again the next day; the supervisor restarts
this process if it dies. Under systemd the timers deploy/systemd/tongdai1022-backup.timer and
tongdai1022-retention.timer do these jobs instead."""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from bot import logs, retention
from bot.backup import create
from bot.config import Settings, load_env_file
from bot.media import MediaStore
from bot.repository import Repository

VIETNAM = timezone(timedelta(hours=7))
log = logging.getLogger("tongdai.scheduler")


def next_run(now: datetime, at: str) -> datetime:
    """The first moment at `at` ("HH:MM[:SS]", Vietnam time) strictly after `now`."""
    hour, minute, second = (int(p) for p in (at.split(":") + ["0"])[:3])
    local = now.astimezone(VIETNAM)
    moment = local.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return moment if moment > local else moment + timedelta(days=1)


def run_retention(settings: Settings) -> None:
    repository = Repository(settings.database_uri)
    try:
        retention.run(repository, MediaStore(settings.var_dir / "media", repository), settings.retention_months)
    finally:
        repository.close()


def jobs(settings: Settings) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, when, what) of every daily job these settings turn on."""
    found = []
    if settings.backup_at:
        found.append(("backup", settings.backup_at, lambda: create(settings)))
    if settings.retention_at and settings.retention_months:
        found.append(("retention", settings.retention_at, lambda: run_retention(settings)))
    return found


def main() -> None:
    load_env_file()
    logs.setup("scheduler")
    settings = Settings.from_env()
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    daily = jobs(settings)
    if not daily:
        log.info("BACKUP_AT and RETENTION_AT are off: no daily job")
        stopping.wait()
        return
    while not stopping.is_set():
        now = datetime.now(timezone.utc)
        due, name, job = min((next_run(now, at), name, job) for name, at, job in daily)
        log.info("next %s at %s", name, due.isoformat(), extra={"job": name, "due": due.isoformat()})
        if stopping.wait((due - datetime.now(timezone.utc)).total_seconds()):
            break
        try:
            job()
        except Exception:  # the disk may be full tonight: say so, try again tomorrow
            log.exception("daily %s failed", name)


if __name__ == "__main__":
    main()
