"""`make backup` and `make restore FILE=…`: the embedded database and the kept media in one dated
archive under BACKUP_DIR, the newest BACKUP_KEEP of them kept.

The database part is a consistent snapshot taken while the server runs. nx-27017 offers no backup
command over the wire (no `fsyncLock`, no dump); its storage engine is SQLite (one `<db>.db` file
per database, in WAL mode), and SQLite's online backup API is the engine's own way to copy a live
database: one read transaction copies every page as of one moment, while the server goes on
writing. A plain file copy could catch a page half-written or miss what sits in the WAL file.

Media files are named after their SHA-256 and never change once written: they are archived as
they are, and their names check them on restore.

With MONGODB_URI set the database is not ours to copy (mongodump, or Atlas's snapshots: see the
README); the archive then holds the media only.

Restore works on a stopped system only: it refuses while the embedded server answers, checks the
whole archive (every file's checksum, SQLite's integrity check, the document counts, the schema
version) before it touches anything, and moves what it replaces aside instead of deleting it."""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import sys
import tarfile
import tempfile
import time
import zlib
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from bot import migrations
from bot.config import DATABASE_NAME, Settings, load_env_file

log = logging.getLogger("tongdai.backup")

FORMAT = 1
NAME = re.compile(r"tongdai1022-\d{8}-\d{6}Z(-\d+)?\.tar\.gz")
MEDIA_FILE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}")
COMPRESSLEVEL = 6  # tarfile's default, 9, took 3.7 times as long for 1 % less (a 70 MB database: 4.4 s, 1.2 s)


class BackupError(Exception):
    """Said to the operator as it is: the archive or the system is not fit for the operation."""


# ---- making a backup ---------------------------------------------------------------------------

def create(settings: Settings) -> Path:
    """Write one archive into the backup folder and prune old ones. Returns its path."""
    started = time.monotonic()
    folder = settings.backup_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # citizens' phone numbers and the platforms' tokens are in there
    created = datetime.now(timezone.utc)
    path = _free_name(folder, created)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".making-") as work:
        work = Path(work)
        database = _snapshot_database(settings, work)
        partial = work / "archive.tar.gz"
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw, \
                tarfile.open(fileobj=raw, mode="w:gz", compresslevel=COMPRESSLEVEL) as tar:
            for entry in database["files"]:
                tar.add(work / entry["name"], arcname=f"db/{entry['name']}")
            media = _add_media(tar, settings.var_dir / "media")
            manifest = {"format": FORMAT, "created_at": created.isoformat(), "database": database, "media": media,
                        "schema_version": database.get("schema_version", migrations.code_version())}
            _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        os.replace(partial, path)
    removed = prune(folder, settings.backup_keep)
    log.info("backup written: %s", path.name, extra={
        "file": str(path), "bytes": path.stat().st_size, "seconds": round(time.monotonic() - started, 2),
        "media_files": media["files"], "collections": database.get("collections", {}), "pruned": removed})
    return path


def _free_name(folder: Path, created: datetime) -> Path:
    """Named after the time; a second one within the same second gets -2, -3 ... (after any
    earlier one, pruned or not, so that names keep the order in which they were made)."""
    base = f"tongdai1022-{created:%Y%m%d-%H%M%S}Z"
    taken = [_sort_key(p)[1] for p in folder.glob(f"{base}*.tar.gz") if NAME.fullmatch(p.name)]
    return folder / (f"{base}-{max(taken) + 1}.tar.gz" if taken else f"{base}.tar.gz")


def _snapshot_database(settings: Settings, work: Path) -> dict:
    if settings.mongodb_uri:
        return {"kind": "external", "files": []}
    files = []
    for source in sorted((settings.var_dir / "db").glob("*.db")):
        target = work / source.name
        with closing(sqlite3.connect(source, timeout=60)) as live, closing(sqlite3.connect(target)) as copy:
            live.backup(copy)  # all pages in one step: one read transaction, one moment
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_integrity(copy, source.name)
            collections = _collections(copy)
        files.append({"name": source.name, "bytes": target.stat().st_size, "sha256": _sha256(target),
                      "collections": collections})
    if not files:
        raise BackupError(f"no database files under {settings.var_dir / 'db'}: nothing to back up")
    main = next((f for f in files if f["name"] == f"{DATABASE_NAME}.db"), None)
    found = {"kind": "embedded", "files": files}
    if main:
        found["collections"] = main["collections"]
        with closing(sqlite3.connect(work / main["name"])) as copy:
            found["schema_version"] = _schema_version(copy)
    return found


def _add_media(tar: tarfile.TarFile, media: Path) -> dict:
    """Every kept file (`ab/abcd…`), not the half-written temporary files beside them."""
    count = size = 0
    for path in sorted(media.glob("??/*")) if media.is_dir() else []:
        relative = path.relative_to(media).as_posix()
        if MEDIA_FILE.fullmatch(relative) and path.is_file():
            tar.add(path, arcname=f"media/{relative}")
            count, size = count + 1, size + path.stat().st_size
    return {"files": count, "bytes": size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, fileobj=io.BytesIO(data))


def archives(folder: Path) -> list[Path]:
    """The backups in `folder`, oldest first (by the date in their name)."""
    return sorted((p for p in folder.iterdir() if NAME.fullmatch(p.name)), key=_sort_key) if folder.is_dir() else []


def newest(folder: Path) -> Path | None:
    found = archives(folder)
    return found[-1] if found else None


def prune(folder: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` archives."""
    removed = archives(folder)[:-keep]
    for path in removed:
        path.unlink()
    return [p.name for p in removed]


def _sort_key(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.removesuffix(".tar.gz").removeprefix("tongdai1022-").partition("Z")
    return stamp, int(n.lstrip("-") or 1)


# ---- reading SQLite files as nx-27017 lays them out ----------------------------------------------

def _collections(connection: sqlite3.Connection) -> dict[str, int]:
    """nx-27017 keeps each collection in a table of its own with `_id` and `data` columns."""
    counts = {}
    for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        columns = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        if {"_id", "data"} <= columns:
            counts[table] = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return counts


def _schema_version(connection: sqlite3.Connection) -> int:
    try:
        row = connection.execute(
            f"SELECT json_extract(data, '$.version') FROM \"{migrations.COLLECTION}\" WHERE _id = 'version'").fetchone()
    except sqlite3.OperationalError:  # no such table: made before schema versions
        return 0
    return int(row[0]) if row and row[0] is not None else 0


def _check_integrity(connection: sqlite3.Connection, name: str) -> None:
    verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"{name}: SQLite's integrity check failed: {verdict}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- checking and restoring ----------------------------------------------------------------------

def check(archive: Path, staging: Path) -> dict:
    """Unpack `archive` into `staging` (an empty folder) and check every part of it. Returns the manifest."""
    try:
        with gzip.open(archive, "rb") as stream:  # to the end first: gzip's CRC finds damage tarfile would skip
            while stream.read(1 << 20):
                pass
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            if "manifest.json" not in names:
                raise BackupError(f"{archive.name}: not a backup of this app (no manifest.json)")
            tar.extractall(staging, filter="data")  # refuses absolute paths, '..', links out, devices
    except (tarfile.TarError, zlib.error, EOFError, OSError, ValueError) as exc:
        raise BackupError(f"{archive.name}: unreadable or damaged archive ({type(exc).__name__}: {exc})") from exc
    manifest = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive.name}: backup format {manifest.get('format')!r}, this code reads {FORMAT}")
    known = migrations.code_version()
    if manifest.get("schema_version", 0) > known:
        raise BackupError(f"{archive.name}: made by a newer version of the app (schema version "
                          f"{manifest['schema_version']}, this code knows up to {known}): restore it with that version")
    for entry in manifest["database"]["files"]:
        path = staging / "db" / entry["name"]
        if not path.is_file() or path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{archive.name}: db/{entry['name']} does not match its checksum")
        with closing(sqlite3.connect(path)) as copy:
            _check_integrity(copy, entry["name"])
            if _collections(copy) != entry["collections"]:
                raise BackupError(f"{archive.name}: db/{entry['name']} does not hold the documents it should")
    media = staging / "media"
    kept = [p for p in media.rglob("*") if p.is_file()] if media.is_dir() else []
    if len(kept) != manifest["media"]["files"] or sum(p.stat().st_size for p in kept) != manifest["media"]["bytes"]:
        raise BackupError(f"{archive.name}: the media files are not all there")
    for path in kept:
        if _sha256(path) != path.name:
            raise BackupError(f"{archive.name}: media/{path.relative_to(media)} is damaged")
    return manifest


def embedded_server_running(settings: Settings) -> bool:
    """Its pid file names a live process, or something answers on its port."""
    pid_file = settings.var_dir / "db.pid"
    try:
        pid = int(pid_file.read_text().strip())
        if Path(f"/proc/{pid}").exists():
            return True
    except (OSError, ValueError):
        pass
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", settings.embedded_db_port)) == 0


def restore(settings: Settings, archive: Path) -> dict:
    """Replace the database files and media with the archive's, on a stopped system. Returns
    what was restored and where the replaced data went."""
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%SZ")
    staging = Path(tempfile.mkdtemp(dir=var, prefix=f".restoring-{stamp}-"))
    try:
        manifest = check(archive, staging)
        kind = manifest["database"]["kind"]
        if kind == "embedded" and settings.mongodb_uri:
            raise BackupError("this backup holds the embedded database, but MONGODB_URI points at another "
                              "server: unset it to restore the embedded one (see the README for mongorestore)")
        if kind == "embedded" and embedded_server_running(settings):
            raise BackupError("the embedded database is running: stop the app first "
                              "(Ctrl-C in `make run`, or systemctl stop tongdai1022.target)")
        aside = var / f"replaced-{stamp}"
        parts = (["db"] if kind == "embedded" else []) + ["media"]
        for part in parts:
            if (var / part).exists():
                aside.mkdir(exist_ok=True)
                os.replace(var / part, aside / part)
            if (staging / part).exists():
                os.replace(staging / part, var / part)
        return {"manifest": manifest, "replaced": str(aside) if aside.exists() else None}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- command line -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.backup", description="back up or restore the app's data")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="write a backup into BACKUP_DIR (make backup)")
    for name, what in (("check", "check an archive without restoring it"),
                       ("restore", "restore an archive into the stopped app (make restore FILE=…)")):
        commands.add_parser(name, help=what).add_argument("file", type=Path)
    args = parser.parse_args(argv)
    load_env_file()
    settings = Settings.from_env()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if args.command == "create":
            started = time.monotonic()
            path = create(settings)
            print(f"backup written: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)")
            if settings.mongodb_uri:
                print("MONGODB_URI is set: the archive holds the media only; back up the database with "
                      "mongodump or the provider's snapshots (README, 'Backups').")
        elif args.command == "check":
            with tempfile.TemporaryDirectory() as staging:
                print(describe(check(args.file, Path(staging))))
        else:
            done = restore(settings, args.file)
            print(f"restored {args.file.name}: {describe(done['manifest'])}")
            if done["replaced"]:
                print(f"what it replaced is kept in {done['replaced']} (delete it once the restore is verified)")
            print("start the app: it brings the schema up to date if the backup is older than the code")
    except BackupError as exc:
        print(f"{args.command} refused: {exc}", file=sys.stderr)
        return 1
    return 0


def describe(manifest: dict) -> str:
    counts = manifest["database"].get("collections", {})
    shown = ", ".join(f"{counts[c]:,} {c}" for c in ("messages", "cases", "staff") if c in counts)
    database = "database not included (MONGODB_URI)" if manifest["database"]["kind"] == "external" else shown
    return (f"made {manifest['created_at']}, schema version {manifest['schema_version']}; {database}; "
            f"{manifest['media']['files']:,} media files ({manifest['media']['bytes'] / 1e6:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
