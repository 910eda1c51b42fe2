"""Schema versions (bot/migrations). Each migration is run on a copy of the data the version before
it made (tests/fixtures/schema/version-N.tar.gz: a backup made by that code, see README,
"Upgrades"), restored the way an operator restores it; then run again, to show it is idempotent.
The runner itself is tested with migrations made up here, on the real database server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pymongo import MongoClient

from bot import backup, migrations
from bot.config import REPO_ROOT
from bot.migrations import Migration, SchemaTooNew
from bot.repository import Repository
from tests.conftest import wait_until
from tests.filling import start_database, stop_database
from tests.test_backup import dump, system

pytestmark = pytest.mark.slow  # not in `make test-fast`: restores archived databases into a server of its own

FIXTURES = Path(__file__).parent / "fixtures" / "schema"


# ---- what each migration must do to the data of the version before it ---------------------------

def baseline_changes_nothing(before: dict, after: dict) -> None:
    assert {name: docs for name, docs in after.items() if name != "schema"} == before


def closed_cases_know_when_they_closed(before: dict, after: dict) -> None:
    """Only closed cases changed, only by gaining `closed_ts`: their last step with that status."""
    assert {name: docs for name, docs in after.items() if name not in ("schema", "cases")} == \
        {name: docs for name, docs in before.items() if name not in ("schema", "cases")}
    closed = ("resolved", "not_responsible", "duplicate", "withdrawn")
    for old, new in zip(before["cases"], after["cases"]):
        if old["status"] not in closed:
            assert new == old
            continue
        assert {k: v for k, v in new.items() if k != "closed_ts"} == old
        steps = [e["ts"] for e in before["case_events"] if e["code"] == old["code"] and e["status"] == old["status"]]
        assert new["closed_ts"] == pytest.approx(max(steps, default=old.get("resolved_ts") or old.get("updated_ts")),
                                                 abs=0.01)  # the embedded server keeps 5 decimals of a $set float


CHECKS = {1: baseline_changes_nothing, 2: closed_cases_know_when_they_closed}  # migration number -> check(before, after)


def test_every_migration_says_why_has_a_check_and_a_copy_of_the_data_before_it():
    found = migrations.discover()
    assert [m.number for m in found] == list(range(1, len(found) + 1))
    assert sorted(CHECKS) == [m.number for m in found], "add the new migration's check to CHECKS"
    for m in found:
        assert (FIXTURES / f"version-{m.number - 1}.tar.gz").is_file(), \
            f"freeze the data of version {m.number - 1} (README, 'Upgrades') before writing migration {m.number}"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("version-*.tar.gz")), ids=lambda p: p.name)
def test_the_data_of_an_older_version_is_brought_up_to_date(fixture, tmp_path):
    made_by = int(fixture.name.removeprefix("version-").removesuffix(".tar.gz"))
    settings, _ = system(tmp_path)
    assert backup.restore(settings, fixture)["manifest"]["schema_version"] == made_by
    database = start_database(settings)
    client = MongoClient(settings.database_uri)
    try:
        db = client.get_default_database()
        before = state = dump(settings.database_uri)
        assert migrations.database_version(db) == made_by and before["cases"]
        steps = migrations.discover()
        for m in steps[made_by:]:  # one at a time, each checked on what the one before left
            assert migrations.upgrade(db, steps[:m.number]) == [m]
            done = dump(settings.database_uri)
            CHECKS[m.number](state, done)
            m.up(db)  # idempotent: applied again, it changes nothing
            assert dump(settings.database_uri) == done
            state = done
        assert migrations.database_version(db) == migrations.code_version()
        # and the app starts on it: indexes made, its cases readable
        repository = Repository(settings.database_uri)
        repository.wait_until_ready(30)
        assert repository.find_case(before["cases"][0]["code"])["status"] == before["cases"][0]["status"]
        repository.close()
    finally:
        client.close()
        stop_database(database)


# ---- the runner, with migrations made up here ----------------------------------------------------

def counting(number: int, log: list, fail: bool = False) -> Migration:
    def up(db):
        log.append(number)
        db["made_up"].update_one({"_id": number}, {"$inc": {"runs": 1}}, upsert=True)
        if fail:
            raise RuntimeError(f"migration {number} failed")
    return Migration(number, f"step_{number}", up)


@pytest.fixture
def db(database_uri):
    client = MongoClient(database_uri)
    yield client.get_default_database()
    client.close()


def test_migrations_are_applied_in_order_once_and_recorded(db):
    ran = []
    steps = [counting(n, ran) for n in (1, 2, 3)]
    assert [m.number for m in migrations.upgrade(db, steps)] == [1, 2, 3]
    assert migrations.upgrade(db, steps) == [] and ran == [1, 2, 3]
    assert migrations.database_version(db) == 3
    records = {d["_id"]: d for d in db.schema.find({"_id": {"$regex": "^migration:"}})}
    assert sorted(records) == ["migration:0001", "migration:0002", "migration:0003"]
    assert records["migration:0002"]["name"] == "step_2" and records["migration:0002"]["duration_ms"] >= 0
    assert db.schema.find_one({"_id": "lease"})["owner"] is None  # released


def test_a_failed_migration_leaves_the_version_at_the_last_good_one_and_is_run_again(db):
    ran = []
    with pytest.raises(RuntimeError):
        migrations.upgrade(db, [counting(1, ran), counting(2, ran, fail=True), counting(3, ran)])
    assert migrations.database_version(db) == 1 and db.schema.find_one({"_id": "lease"})["owner"] is None
    assert [m.number for m in migrations.upgrade(db, [counting(1, ran), counting(2, ran), counting(3, ran)])] == [2, 3]
    assert ran == [1, 2, 2, 3]


def test_a_database_newer_than_the_code_is_refused_and_left_alone(db, database_uri):
    migrations.upgrade(db, [counting(n, []) for n in (1, 2, 3)])
    before = list(db.schema.find())
    for attempt in (lambda: migrations.upgrade(db, [counting(1, [])]), lambda: migrations.check(db, [counting(1, [])])):
        with pytest.raises(SchemaTooNew) as refused:
            attempt()
        assert (refused.value.database_version, refused.value.code_version) == (3, 1)
    assert list(db.schema.find()) == before


def test_make_run_the_web_and_the_worker_refuse_a_newer_database(db, database_uri, tmp_path):
    migrations.upgrade(db)
    db.schema.update_one({"_id": "version"}, {"$set": {"version": migrations.code_version() + 1}})
    env = {**{k: v for k, v in os.environ.items() if k not in ("BACKUP_AT", "NLU_URL")},
           "MONGODB_URI": database_uri, "NLU_URL": "http://127.0.0.1:9", "VAR_DIR": str(tmp_path / "var"),
           "PORT": "9", "BACKUP_AT": "off"}
    for module in ("bot.run", "bot.web", "bot.worker"):
        done = subprocess.run([sys.executable, "-m", module], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 78, (module, done.stdout, done.stderr)
        assert "it was written by a newer version of the app" in done.stderr, module
    assert "started" not in done.stdout  # bot.run started no service


def test_one_process_migrates_while_the_others_wait(database_uri):
    ran = []
    steps = [counting(n, ran) for n in (1, 2, 3)]
    clients = [MongoClient(database_uri) for _ in range(4)]
    applied: list = []
    threads = [threading.Thread(target=lambda c=c, i=i: applied.append(
        migrations.upgrade(c.get_default_database(), steps, owner=f"elsewhere:{i}"))) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(ran) == {1: 1, 2: 1, 3: 1}
    assert sorted(len(a) for a in applied) == [0, 0, 0, 3]
    for c in clients:
        c.close()


def hold_lease(db, owner: str, seconds: float) -> None:
    db.schema.replace_one({"_id": "lease"}, {"_id": "lease", "owner": owner, "until": time.time() + seconds},
                          upsert=True)


def test_a_lease_held_by_another_machine_is_waited_for_until_the_deadline(db):
    ran = []
    hold_lease(db, "db-host-2:4242", 600)
    with pytest.raises(TimeoutError, match="db-host-2:4242"):
        migrations.upgrade(db, [counting(1, ran)], wait_seconds=1)
    assert ran == [] and migrations.database_version(db) == 0


def test_an_expired_lease_or_one_of_a_dead_process_here_is_taken_over(db):
    ran = []
    hold_lease(db, "db-host-2:4242", -1)
    assert len(migrations.upgrade(db, [counting(1, ran)], wait_seconds=0)) == 1
    dead = subprocess.Popen(["true"])
    dead.wait()
    hold_lease(db, f"{socket.gethostname()}:{dead.pid}", 600)
    assert len(migrations.upgrade(db, [counting(1, ran), counting(2, ran)], wait_seconds=0)) == 1
    assert ran == [1, 2]


def test_a_long_migration_keeps_its_lease_while_it_works(db):
    working, finish = threading.Event(), threading.Event()

    def slow(_db):
        working.set()
        finish.wait(60)

    first = threading.Thread(target=migrations.upgrade, args=(db, [Migration(1, "slow", slow)]),
                             kwargs={"owner": "db-host-1:1", "lease_seconds": 0.4})
    first.start()
    try:
        wait_until(working.is_set, 30, "the slow migration to start")
        taken = db.schema.find_one({"_id": "lease"})["until"]
        wait_until(lambda: db.schema.find_one({"_id": "lease"})["until"] > taken + 0.3, 10, "the lease renewed")
        with pytest.raises(TimeoutError, match="db-host-1:1"):  # long past the first 0.4 s, still held
            migrations.upgrade(db, [counting(1, [])], wait_seconds=1, owner="db-host-2:2", lease_seconds=0.4)
    finally:
        finish.set()
        first.join(timeout=30)
    assert migrations.database_version(db) == 1


@pytest.mark.parametrize("names, problem", [
    (["0001_a.py", "0003_c.py"], "without gaps"),
    (["0001_a.py", "0001_b.py"], "without gaps"),
    (["0001-a.py"], "named NNNN_what_it_does.py"),
    (["0001_a.py:"], "docstring"),
])
def test_a_misnumbered_or_unexplained_migration_is_refused(tmp_path, names, problem):
    for name in names:
        bare = name.endswith(":")
        (tmp_path / name.rstrip(":")).write_text(("" if bare else '"""Why."""\n') + "def up(db):\n    pass\n")
    with pytest.raises(ValueError, match=problem):
        migrations.discover(tmp_path)
