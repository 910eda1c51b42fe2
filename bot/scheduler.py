"""`make run`'s nightly backup: sleeps until BACKUP_AT (Vietnam time), writes a backup
(bot/backup.py), and again the next day. A failed backup is logged and tried again the next
night; the supervisor restarts this process if it dies. Under systemd the timer
deploy/systemd/tongdai1022-backup.timer does this job instead."""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta, timezone

from bot import logs
from bot.backup import create
from bot.config import Settings, load_env_file

VIETNAM = timezone(timedelta(hours=7))
log = logging.getLogger("tongdai.scheduler")


def next_run(now: datetime, at: str) -> datetime:
    """The first moment at `at` ("HH:MM[:SS]", Vietnam time) strictly after `now`."""
    hour, minute, second = (int(p) for p in (at.split(":") + ["0"])[:3])
    local = now.astimezone(VIETNAM)
    moment = local.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return moment if moment > local else moment + timedelta(days=1)


def main() -> None:
    load_env_file()
    logs.setup("backup")
    settings = Settings.from_env()
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    if not settings.backup_at:
        log.info("BACKUP_AT is off: no nightly backup")
        stopping.wait()
        return
    while not stopping.is_set():
        due = next_run(datetime.now(timezone.utc), settings.backup_at)
        log.info("next backup at %s", due.isoformat(), extra={"due": due.isoformat()})
        if stopping.wait((due - datetime.now(timezone.utc)).total_seconds()):
            break
        try:
            create(settings)
        except Exception:  # the disk may be full tonight: say so, try again tomorrow
            log.exception("nightly backup failed")


if __name__ == "__main__":
    main()
