"""Backups and restores (bot/backup.py through `make backup` / `make restore`), and the nightly
schedule. The drill: a system filled with cases, messages, media, staff and settings is backed
up while it goes on writing, wiped, restored, and compared collection by collection, file by file."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pymongo import MongoClient

from bot import backup, migrations
from bot.config import REPO_ROOT, Settings
from bot.scheduler import VIETNAM, next_run
from tests.conftest import environment_for_tests, free_port, wait_until
from tests.filling import fill, start_database, stop_database

pytestmark = pytest.mark.slow  # not in `make test-fast`: archives, a database server of its own

OUR_VARIABLES = ("MONGODB_URI", "VAR_DIR", "BACKUP_DIR", "BACKUP_KEEP", "EMBEDDED_DB_PORT")


def system(tmp_path: Path, nlu_url: str | None = None, zalo_url: str = "http://127.0.0.1:9",
           graph_url: str = "http://127.0.0.1:9", **extra) -> tuple[Settings, dict]:
    """Settings and the environment for `make` of a system living under tmp_path/var."""
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    env.update({k: v for k, v in environment_for_tests(None, nlu_url, zalo_url, graph_url, tmp_path / "var").items()
                if v is not None})
    env.update(EMBEDDED_DB_PORT=str(free_port()), **extra)
    return Settings.from_env(env), env


def make(target: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def dump(uri: str) -> dict[str, list[dict]]:
    """Every document of every collection, in _id order."""
    client = MongoClient(uri)
    try:
        db = client.get_default_database()
        return {name: sorted(db[name].find(), key=lambda d: str(d["_id"])) for name in db.list_collection_names()}
    finally:
        client.close()


def files_under(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_restore_drill(nlu_url, fake_zalo, fake_graph, tmp_path):
    settings, env = system(tmp_path, nlu_url, fake_zalo.url, fake_graph.base_url)
    database = start_database(settings)
    try:
        counts = fill(settings, fake_zalo)
        assert {"messages", "cases", "case_events", "conversations", "staff", "settings", "audit", "tokens",
                "schema"} <= set(counts)
        media = files_under(settings.var_dir / "media")
        assert len(media) == 1  # the same photo twice, kept once
        before = dump(settings.database_uri)

        # The app goes on writing while the backup is taken: the snapshot must hold a prefix of
        # these numbered writes, with no gap (one moment, not a copy made over time).
        client = MongoClient(settings.database_uri)
        writes, stop_writing = client.get_default_database()["drill_writes"], threading.Event()

        def write():
            n = 0
            while not stop_writing.is_set():
                n += 1
                writes.insert_one({"_id": n})

        writer = threading.Thread(target=write)
        writer.start()
        try:
            wait_until(lambda: writes.estimated_document_count() >= 50, 30, "the writer to be writing")
            made = make("backup", env)
        finally:
            stop_writing.set()
            writer.join()
            written = writes.count_documents({})
            client.close()
        assert made.returncode == 0, made.stderr
        [archive] = list(settings.backup_dir.iterdir())
        assert backup.NAME.fullmatch(archive.name) and f"{archive}" in made.stdout
        assert archive.stat().st_mode & 0o777 == 0o600 and settings.backup_dir.stat().st_mode & 0o777 == 0o700
    finally:
        stop_database(database)

    # Wipe, and restore into the stopped system.
    shutil.rmtree(settings.var_dir / "db")
    shutil.rmtree(settings.var_dir / "media")
    restored = make("restore", env, f"FILE={archive}")
    assert restored.returncode == 0, restored.stderr
    assert f"{counts['messages']:,} messages, {counts['cases']:,} cases, 4 staff" in restored.stdout

    database = start_database(settings)
    try:
        after = dump(settings.database_uri)
    finally:
        stop_database(database)
    snapshot = sorted(d["_id"] for d in after.pop("drill_writes"))
    assert 50 <= len(snapshot) <= written and snapshot == list(range(1, len(snapshot) + 1))
    assert after == before  # every collection, every document, every field
    assert files_under(settings.var_dir / "media") == media


@pytest.fixture
def small_system(tmp_path):
    """A system with a few documents and one media file, its database stopped; yields (settings, env)."""
    settings, env = system(tmp_path, BACKUP_KEEP="3")
    database = start_database(settings)
    try:
        client = MongoClient(settings.database_uri)
        db = client.get_default_database()
        migrations.upgrade(db)
        db.cases.insert_many([{"code": f"TV-{n:06d}", "status": "new"} for n in range(5)])
        client.close()
    finally:
        stop_database(database)
    photo = settings.var_dir / "media" / "ab" / hashlib.sha256(b"photo").hexdigest()
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"photo")
    (settings.var_dir / "media" / "tmpwriting").write_bytes(b"half a file")  # a fetch in progress
    return settings, env


def test_a_backup_of_a_stopped_system_keeps_the_kept_media_only_and_checks(small_system, tmp_path):
    settings, env = small_system
    archive = backup.create(settings)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert names == {"db/admin.db", "db/tongdai1022.db", f"media/ab/{hashlib.sha256(b'photo').hexdigest()}",
                     "manifest.json"}
    checked = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-m", "bot.backup", "check", str(archive)],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert checked.returncode == 0 and "5 cases" in checked.stdout and "1 media files" in checked.stdout


def test_only_the_newest_backups_are_kept(small_system):
    settings, _ = small_system
    made = [backup.create(settings) for _ in range(5)]
    assert sorted(settings.backup_dir.iterdir()) == sorted(made[-3:])  # BACKUP_KEEP=3
    (settings.backup_dir / "notes.txt").write_text("the operator's own file")
    backup.create(settings)
    assert (settings.backup_dir / "notes.txt").exists()


def repacked(archive: Path, change) -> Path:
    """A copy of `archive` with its manifest changed by `change(manifest)`."""
    target = archive.with_name("tongdai1022-20200101-000000Z.tar.gz")
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return target


def damaged(archive: Path) -> Path:
    target = archive.with_name("damaged.tar.gz")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("spoil, reason", [
    (damaged, "unreadable or damaged archive"),
    (lambda a: repacked(a, lambda m: m.update(schema_version=migrations.code_version() + 1)),
     "made by a newer version of the app"),
    (lambda a: repacked(a, lambda m: m["database"]["files"][0].update(sha256="0" * 64)), "does not match its checksum"),
    (lambda a: repacked(a, lambda m: m["media"].update(files=2)), "the media files are not all there"),
])
def test_restore_refuses_a_bad_archive_and_changes_nothing(small_system, spoil, reason):
    settings, env = small_system
    bad = spoil(backup.create(settings))
    before = files_under(settings.var_dir)
    refused = make("restore", env, f"FILE={bad}")
    assert refused.returncode != 0 and reason in refused.stderr
    assert files_under(settings.var_dir) == before and not list(settings.var_dir.glob(".restoring-*"))


def test_restore_refuses_while_the_database_runs_and_keeps_what_it_replaces(small_system):
    settings, env = small_system
    archive = backup.create(settings)
    database = start_database(settings)
    try:
        refused = make("restore", env, f"FILE={archive}")
        assert refused.returncode != 0 and "the embedded database is running" in refused.stderr
    finally:
        stop_database(database)
    old = (settings.var_dir / "db" / "tongdai1022.db").read_bytes()
    done = make("restore", env, f"FILE={archive}")
    assert done.returncode == 0, done.stderr
    [aside] = settings.var_dir.glob("replaced-*")
    assert (aside / "db" / "tongdai1022.db").read_bytes() == old and str(aside) in done.stdout
    assert make("restore", env).returncode == 2  # no FILE: the usage


def test_restore_of_a_media_only_backup_leaves_the_database_alone(small_system):
    settings, env = small_system
    external = Settings.from_env({**env, "MONGODB_URI": "mongodb://db.invalid/tongdai1022"})
    archive = backup.create(external)
    with tarfile.open(archive) as tar:
        assert not [n for n in tar.getnames() if n.startswith("db/")]
    database_files = files_under(settings.var_dir / "db")
    assert backup.restore(external, archive)["manifest"]["database"]["kind"] == "external"
    assert files_under(settings.var_dir / "db") == database_files
    assert len(files_under(settings.var_dir / "media")) == 1


@pytest.mark.parametrize("now, at, expected", [
    ("2026-11-27T19:00:00+00:00", "02:30", "2026-11-28T02:30:00+07:00"),  # 02:00 in Vietnam: today
    ("2026-11-27T19:30:00+00:00", "02:30", "2026-11-29T02:30:00+07:00"),  # exactly then: tomorrow
    ("2026-11-27T20:00:00+00:00", "02:30", "2026-11-29T02:30:00+07:00"),
    ("2026-12-31T16:59:58+00:00", "23:59:59", "2026-12-31T23:59:59+07:00"),  # a second before
    ("2026-12-31T17:00:00+00:00", "00:00", "2027-01-02T00:00:00+07:00"),
])
def test_the_nightly_backup_runs_at_backup_at_vietnam_time(now, at, expected):
    due = next_run(datetime.fromisoformat(now), at)
    assert due == datetime.fromisoformat(expected) and due.tzinfo == VIETNAM


def test_the_scheduler_takes_a_backup_when_it_is_due(small_system):
    settings, env = small_system
    # Ahead by more than the scheduler takes to start on a busy machine (a fresh clone compiles
    # its imports first): a start after the hour would make the next backup tomorrow's.
    soon = datetime.now(VIETNAM).timestamp() + 10
    env = {**env, "BACKUP_AT": datetime.fromtimestamp(soon, VIETNAM).strftime("%H:%M:%S")}
    scheduler = subprocess.Popen([str(REPO_ROOT / ".venv/bin/python"), "-m", "bot.scheduler"], cwd=REPO_ROOT,
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: settings.backup_dir.is_dir() and any(backup.NAME.fullmatch(p.name)
                                                                 for p in settings.backup_dir.iterdir()),
                   60, "the scheduled backup")
    finally:
        scheduler.terminate()
        _, errors = scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("backup written") for line in lines), errors
    assert datetime.fromisoformat(lines[0]["due"]).astimezone(timezone.utc).timestamp() == pytest.approx(soon, abs=1)


def test_metrics_tell_when_the_newest_backup_was_written(client, settings):
    def reported() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        return float(next(line.split()[1] for line in text.splitlines()
                          if line.startswith("tongdai_backup_last_timestamp_seconds ")))

    assert reported() == 0.0
    backup.create(settings)  # MONGODB_URI is set here: an archive of the media only
    newest = backup.create(settings)
    assert reported() == newest.stat().st_mtime
