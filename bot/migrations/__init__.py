"""Schema versions: numbered migrations, applied in order, once each, before the app starts.

A migration is a module here named `NNNN_what_it_does.py` (four digits, no gaps) with a function
`up(db)` that takes the pymongo database. It must be idempotent: a process that dies half-way
leaves the version at the last migration that finished, and the next start runs the unfinished
one again from the beginning. It keeps to the operations the embedded server gets right (see
bot/repository.py's docstring) and may be slow on a big database: it runs once, while nothing
else writes.

The database's version is the document `{"_id": "version", "version": N}` in the collection
`schema`, with one `{"_id": "migration:NNNN", ...}` record per migration applied. A database with
none was made before versions existed: version 0. One process migrates at a time (a lease in the
same collection); the others wait for it. A database newer than the code is refused
(`SchemaTooNew`): old code must not write documents it does not understand."""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

log = logging.getLogger("tongdai.migrations")

COLLECTION = "schema"
LEASE_SECONDS = 120.0  # renewed while migrating; a migrator that died blocks the others this long at most
WAIT_SECONDS = 3600.0  # how long the others wait for a migrator that is alive
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.py")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    up: Callable[[Database], None]


class SchemaTooNew(Exception):
    def __init__(self, database_version: int, code_version: int):
        self.database_version, self.code_version = database_version, code_version
        super().__init__(
            f"the database is at schema version {database_version}, this code knows versions up to "
            f"{code_version}: it was written by a newer version of the app. Run that version, or "
            f"restore a backup made by this one (make restore FILE=...).")


@functools.cache  # read once per process: every process start checks the version
def discover(directory: Path = Path(__file__).parent) -> list[Migration]:
    """Every migration module in `directory`, in order; their numbers must run 1, 2, 3 ...
    without gaps, and each must say why in its docstring."""
    found = []
    for path in sorted(directory.glob("[0-9]*.py")):
        match = _NAME.fullmatch(path.name)
        if not match:
            raise ValueError(f"{path.name}: a migration is named NNNN_what_it_does.py")
        spec = importlib.util.spec_from_file_location(f"{__name__}.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not (module.__doc__ or "").strip() or not callable(getattr(module, "up", None)):
            raise ValueError(f"{path.name}: a migration has a docstring saying why, and up(db)")
        found.append(Migration(int(match[1]), match[2], module.up))
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise ValueError(f"migration numbers must be 1, 2, 3 ... without gaps or repeats: {numbers}")
    return found


def code_version(migrations: list[Migration] | None = None) -> int:
    return len(discover() if migrations is None else migrations)


def database_version(db: Database) -> int:
    document = db[COLLECTION].find_one({"_id": "version"})
    return int(document["version"]) if document else 0


def check(db: Database, migrations: list[Migration] | None = None) -> int:
    """The database's version; SchemaTooNew when the code is older than the database."""
    latest, current = code_version(migrations), database_version(db)
    if current > latest:
        raise SchemaTooNew(current, latest)
    return current


def upgrade(db: Database, migrations: list[Migration] | None = None, wait_seconds: float = WAIT_SECONDS,
            owner: str | None = None, lease_seconds: float = LEASE_SECONDS) -> list[Migration]:
    """Apply what the database lacks, in order. Returns the migrations this call applied."""
    migrations = discover() if migrations is None else migrations
    if check(db, migrations) == len(migrations):
        return []
    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    if not _wait_for_lease(db, owner, len(migrations), wait_seconds, lease_seconds):
        return []  # another process finished them while this one waited
    done = threading.Event()
    threading.Thread(target=_renew_lease, args=(db, owner, done, lease_seconds), daemon=True).start()
    try:
        applied = []
        for migration in migrations[check(db, migrations):]:
            started = time.monotonic()
            log.info("applying migration %04d %s", migration.number, migration.name)
            migration.up(db)
            took = round((time.monotonic() - started) * 1000, 1)
            # The _id again in the replacement: nx-27017's upsert would otherwise insert a new ObjectId.
            record = f"migration:{migration.number:04d}"
            db[COLLECTION].replace_one({"_id": record}, {"_id": record, "name": migration.name, "by": owner,
                                                         "applied_ts": time.time(), "duration_ms": took}, upsert=True)
            db[COLLECTION].replace_one({"_id": "version"}, {"_id": "version", "version": migration.number,
                                                            "updated_ts": time.time()}, upsert=True)
            log.info("migration %04d %s applied", migration.number, migration.name,
                     extra={"schema_version": migration.number, "duration_ms": took})
            applied.append(migration)
        return applied
    finally:
        done.set()
        db[COLLECTION].update_one({"_id": "lease", "owner": owner}, {"$set": {"owner": None, "until": 0.0}})


def _renew_lease(db: Database, owner: str, done: threading.Event, seconds: float) -> None:
    """A migration may take longer than the lease: keep it while this process works."""
    while not done.wait(seconds / 4):
        db[COLLECTION].update_one({"_id": "lease", "owner": owner}, {"$set": {"until": time.time() + seconds}})


def _wait_for_lease(db: Database, owner: str, latest: int, wait_seconds: float, lease_seconds: float) -> bool:
    """True once this process holds the migration lease; False if another finished meanwhile."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if _take_lease(db, owner, lease_seconds):
            return True
        if database_version(db) >= latest:
            return False
        if time.monotonic() > deadline:
            holder = db[COLLECTION].find_one({"_id": "lease"}) or {}
            raise TimeoutError(f"migrations: {holder.get('owner')} has held the lease for more than {wait_seconds:.0f} s")
        time.sleep(0.5)  # another process is migrating: nothing to be notified by


def _take_lease(db: Database, owner: str, seconds: float) -> bool:
    now = time.time()
    holder = db[COLLECTION].find_one({"_id": "lease"})
    if holder is None:
        try:
            db[COLLECTION].insert_one({"_id": "lease", "owner": owner, "until": now + seconds})
            return True
        except DuplicateKeyError:
            return False
    free = holder["until"] <= now or _dead_here(holder.get("owner"))
    return free and db[COLLECTION].find_one_and_update(
        {"_id": "lease", "owner": holder.get("owner"), "until": holder["until"]},
        {"$set": {"owner": owner, "until": now + seconds}}) is not None


def _dead_here(owner: str | None) -> bool:
    """A lease held by a process of this machine that no longer exists (a crash mid-migration
    would otherwise make the next start wait out the whole lease)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not Path(f"/proc/{pid}").exists()
